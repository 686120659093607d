package runner

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/resources"
)

func TestProvisionIsCompleteAndIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := awsConfig(t)
	prefix := uniquePrefix(t)
	first, err := Provision(ctx, cfg, prefix, ProvisionOptions{ClientSecret: "s3cret-1"})
	if err != nil {
		t.Fatalf("Provision: got %v; want nil", err)
	}
	second, err := Provision(ctx, cfg, prefix, ProvisionOptions{ClientSecret: "s3cret-2", VisibilityTimeout: 7 * time.Second})
	if err != nil {
		t.Fatalf("second Provision: got %v; want nil", err)
	}
	if second.KeyID != first.KeyID || second.SecretARN != first.SecretARN {
		t.Fatalf("second Provision key/secret: got %s %s; want %s %s", second.KeyID, second.SecretARN, first.KeyID, first.SecretARN)
	}
	for _, name := range []string{resources.EnvConnectionsTable, resources.EnvPoliciesTable, resources.EnvLedgerTable,
		resources.EnvContactQueueURL, resources.EnvActivityQueueURL, resources.EnvResultsQueueURL,
		resources.EnvTokenKeyID, resources.EnvClientSecretARN} {
		if second.Env[name] == "" || second.Env[name] != first.Env[name] {
			t.Errorf("Env[%s]: got %q then %q; want the same non-empty value", name, first.Env[name], second.Env[name])
		}
	}

	ddb := dynamodb.NewFromConfig(cfg)
	for _, tb := range resources.Tables {
		d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(second.Tables[tb.Name])})
		if err != nil {
			t.Fatalf("DescribeTable %s: got %v; want nil", tb.Name, err)
		}
		if got := d.Table.BillingModeSummary; got == nil || got.BillingMode != ddbtypes.BillingModePayPerRequest {
			t.Errorf("table %s billing: got %v; want PAY_PER_REQUEST", tb.Name, got)
		}
		keys := map[string]ddbtypes.KeyType{}
		for _, k := range d.Table.KeySchema {
			keys[aws.ToString(k.AttributeName)] = k.KeyType
		}
		if keys[resources.PartitionKey] != ddbtypes.KeyTypeHash || keys[resources.SortKey] != ddbtypes.KeyTypeRange {
			t.Errorf("table %s keys: got %v; want pk HASH, sk RANGE", tb.Name, keys)
		}
		ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(second.Tables[tb.Name])})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(ttl.TimeToLiveDescription.AttributeName); got != resources.TTLAttribute || ttl.TimeToLiveDescription.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled {
			t.Errorf("table %s TTL: got %s %s; want %s ENABLED", tb.Name, got, ttl.TimeToLiveDescription.TimeToLiveStatus, resources.TTLAttribute)
		}
	}

	q := sqs.NewFromConfig(cfg)
	for _, rq := range resources.Queues {
		info := second.Queues[rq.Name]
		a, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(info.URL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatalf("GetQueueAttributes %s: got %v; want nil", rq.Name, err)
		}
		if got := a.Attributes["VisibilityTimeout"]; got != "7" {
			t.Errorf("queue %s visibility: got %s; want 7 (updated by the second run)", rq.Name, got)
		}
		var rp struct {
			Target string `json:"deadLetterTargetArn"`
			Max    any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(a.Attributes["RedrivePolicy"]), &rp); err != nil {
			t.Fatalf("queue %s redrive policy %q: %v", rq.Name, a.Attributes["RedrivePolicy"], err)
		}
		if rp.Target != info.DLQARN || toInt(rp.Max) != rq.MaxReceiveCount {
			t.Errorf("queue %s redrive: got %s/%v; want %s/%d", rq.Name, rp.Target, rp.Max, info.DLQARN, rq.MaxReceiveCount)
		}
	}

	k := kms.NewFromConfig(cfg)
	d, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(second.KeyAlias)})
	if err != nil {
		t.Fatalf("DescribeKey %s: got %v; want nil", second.KeyAlias, err)
	}
	if got := aws.ToString(d.KeyMetadata.KeyId); got != second.KeyID {
		t.Errorf("alias target: got %s; want %s", got, second.KeyID)
	}
	sv, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(second.SecretARN)})
	if err != nil {
		t.Fatalf("GetSecretValue: got %v; want nil", err)
	}
	if got := aws.ToString(sv.SecretString); got != "s3cret-2" {
		t.Errorf("secret: got %q; want the value of the latest run", got)
	}
}

func toInt(v any) int {
	switch t := v.(type) {
	case float64:
		return int(t)
	case string:
		n, _ := strconv.Atoi(t)
		return n
	}
	return -1
}

func TestProvisionRejectsBadInput(t *testing.T) {
	t.Parallel()
	cfg := awsConfig(t)
	tests := []struct {
		name   string
		prefix string
		opts   ProvisionOptions
	}{
		{"empty prefix", "", ProvisionOptions{ClientSecret: "x"}},
		{"prefix with slash", "a/b", ProvisionOptions{ClientSecret: "x"}},
		{"long prefix", "p123456789012345678901234567890123456789012345", ProvisionOptions{ClientSecret: "x"}},
		{"no secret", "ok", ProvisionOptions{}},
		{"negative visibility", "ok", ProvisionOptions{ClientSecret: "x", VisibilityTimeout: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Provision(context.Background(), cfg, tc.prefix, tc.opts)
			if err == nil {
				t.Fatalf("Provision: got nil; want an error")
			}
			if tc.name == "prefix with slash" && !errors.Is(err, ErrBadPrefix) {
				t.Fatalf("Provision: got %v; want ErrBadPrefix", err)
			}
		})
	}
}
