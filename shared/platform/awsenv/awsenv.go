// Package awsenv builds the AWS SDK configuration of a Lambda function from
// the environment Lambda gives it: the region, and the role's temporary
// credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN. AWS_ENDPOINT_URL points every client at one endpoint
// (moto, locally).
//
// It stands in for the SDK's config.LoadDefaultConfig, which also brings the
// shared config files, SSO, STS web identity and the instance metadata
// clients into every binary: about a megabyte a function that a Lambda
// never uses.
package awsenv

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ErrMissing is returned when the environment lacks the region or the
// credentials.
var ErrMissing = errors.New("awsenv: AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")

// Config returns the configuration the environment describes.
func Config() (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" || os.Getenv("AWS_ACCESS_KEY_ID") == "" || os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
		return aws.Config{}, ErrMissing
	}
	cfg := aws.Config{Region: region, Credentials: aws.NewCredentialsCache(envCredentials{})}
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	return cfg, nil
}

// envCredentials reads the credentials each time they are needed: Lambda
// keeps the environment's for the life of the execution environment.
type envCredentials struct{}

func (envCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	c := aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken: os.Getenv("AWS_SESSION_TOKEN"), Source: "EnvironmentVariables"}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return aws.Credentials{}, ErrMissing
	}
	return c, nil
}
