package awsenv

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestConfig(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantErr  error
		region   string
		endpoint string
		session  string
	}{
		{"lambda", map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok"}, nil, "eu-west-1", "", "tok"},
		{"default region and an endpoint", map[string]string{"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, nil, "us-east-1", "http://127.0.0.1:5000", ""},
		{"no region", map[string]string{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"}, ErrMissing, "", "", ""},
		{"no secret", map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "a"}, ErrMissing, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"} {
				t.Setenv(k, tt.env[k])
			}
			cfg, err := Config()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Config(): got %v; want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if cfg.Region != tt.region || aws.ToString(cfg.BaseEndpoint) != tt.endpoint {
				t.Errorf("got region %q endpoint %q; want %q %q", cfg.Region, aws.ToString(cfg.BaseEndpoint), tt.region, tt.endpoint)
			}
			c, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil || c.AccessKeyID != tt.env["AWS_ACCESS_KEY_ID"] || c.SessionToken != tt.session {
				t.Errorf("credentials: got %+v %v; want the environment's", c, err)
			}
		})
	}
}
