// Package runner runs the stack's Lambda functions on a laptop: it creates
// the stack's AWS resources on moto_server, serves the Lambda Runtime API to
// the real function programs (compiled for this machine), feeds them SQS
// batches with the semantics of Lambda's event source mapping, and serves the
// HTTP API as API Gateway would, JWT authorizer included.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/resources"
)

// ProvisionOptions tune what Provision creates. Zero values keep the
// declaration in shared/resources.
type ProvisionOptions struct {
	// ClientSecret is stored in the Salesforce client secret (required).
	ClientSecret string
	// VisibilityTimeout overrides every queue's visibility timeout (tests use
	// a few seconds so failed messages come back quickly).
	VisibilityTimeout time.Duration
	// MaxReceiveCount overrides every queue's redrive maxReceiveCount.
	MaxReceiveCount int
}

// QueueInfo is one provisioned queue and its dead-letter queue.
type QueueInfo struct {
	Name, URL, ARN          string
	DLQName, DLQURL, DLQARN string
	VisibilityTimeout       time.Duration
	MaxReceiveCount         int
}

// Provisioned names what Provision created.
type Provisioned struct {
	Prefix    string
	Tables    map[string]string    // logical name (resources.Table.Name) -> table name
	Queues    map[string]QueueInfo // logical name (resources.Queue.Name) -> queue
	KeyID     string
	KeyARN    string
	KeyAlias  string
	SecretARN string
	// Env maps resources.Env* names to values for the functions.
	Env map[string]string
}

// ErrBadPrefix is returned when the resource name prefix is unusable.
var ErrBadPrefix = errors.New("prefix must be 1-40 letters, digits, - or _")

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// Provision creates on the AWS endpoint of cfg everything shared/resources
// declares, with names starting with prefix: the tables (pk/sk string keys,
// on-demand, TTL on resources.TTLAttribute), each queue with its DLQ and
// redrive policy, the KMS key for tokens (alias/<prefix>-tokens) and the
// Secrets Manager secret holding the Salesforce client secret. Running it
// again against the same endpoint finds what exists and brings its settings
// up to date.
func Provision(ctx context.Context, cfg aws.Config, prefix string, opts ProvisionOptions) (*Provisioned, error) {
	if !prefixPattern.MatchString(prefix) {
		return nil, fmt.Errorf("prefix %q: %w", prefix, ErrBadPrefix)
	}
	if opts.ClientSecret == "" {
		return nil, errors.New("provision: client secret is empty")
	}
	if opts.VisibilityTimeout < 0 || opts.VisibilityTimeout > 12*time.Hour {
		return nil, fmt.Errorf("provision: visibility timeout %s is outside 0s-12h", opts.VisibilityTimeout)
	}
	if opts.MaxReceiveCount < 0 || opts.MaxReceiveCount > 1000 {
		return nil, fmt.Errorf("provision: max receive count %d is outside 1-1000", opts.MaxReceiveCount)
	}
	p := &Provisioned{Prefix: prefix, Tables: map[string]string{}, Queues: map[string]QueueInfo{}, Env: map[string]string{}}

	ddb := dynamodb.NewFromConfig(cfg)
	for _, t := range resources.Tables {
		name := prefix + "-" + t.Name
		if err := ensureTable(ctx, ddb, name, t.Indexes); err != nil {
			return nil, err
		}
		p.Tables[t.Name] = name
		p.Env[t.EnvVar] = name
	}

	q := sqs.NewFromConfig(cfg)
	for _, rq := range resources.Queues {
		info, err := ensureQueue(ctx, q, prefix, rq, opts)
		if err != nil {
			return nil, err
		}
		p.Queues[rq.Name] = info
		p.Env[rq.EnvVar] = info.URL
	}

	if err := ensureKey(ctx, kms.NewFromConfig(cfg), prefix, p); err != nil {
		return nil, err
	}
	p.Env[resources.EnvTokenKeyID] = p.KeyID

	arn, err := ensureSecret(ctx, secretsmanager.NewFromConfig(cfg), prefix+"/salesforce-client-secret", opts.ClientSecret)
	if err != nil {
		return nil, err
	}
	p.SecretARN = arn
	p.Env[resources.EnvClientSecretARN] = arn
	return p, nil
}

func ensureTable(ctx context.Context, ddb *dynamodb.Client, name string, indexes []resources.Index) error {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String(resources.PartitionKey), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(resources.SortKey), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String(resources.PartitionKey), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String(resources.SortKey), KeyType: ddbtypes.KeyTypeRange},
		},
	}
	for _, ix := range indexes {
		in.AttributeDefinitions = append(in.AttributeDefinitions,
			ddbtypes.AttributeDefinition{AttributeName: aws.String(ix.PartitionKey), AttributeType: ddbtypes.ScalarAttributeTypeS},
			ddbtypes.AttributeDefinition{AttributeName: aws.String(ix.SortKey), AttributeType: ddbtypes.ScalarAttributeTypeS})
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(ix.Name),
			KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String(ix.PartitionKey), KeyType: ddbtypes.KeyTypeHash},
				{AttributeName: aws.String(ix.SortKey), KeyType: ddbtypes.KeyTypeRange},
			},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
		})
	}
	_, err := ddb.CreateTable(ctx, in)
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	if err := dynamodb.NewTableExistsWaiter(ddb).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute,
		func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second }); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("describe TTL of table %s: %w", name, err)
	}
	if d := ttl.TimeToLiveDescription; d != nil && aws.ToString(d.AttributeName) == resources.TTLAttribute &&
		(d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled || d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabling) {
		return nil
	}
	if _, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
			AttributeName: aws.String(resources.TTLAttribute), Enabled: aws.Bool(true),
		},
	}); err != nil {
		return fmt.Errorf("enable TTL on table %s: %w", name, err)
	}
	return nil
}

func ensureQueue(ctx context.Context, q *sqs.Client, prefix string, rq resources.Queue, opts ProvisionOptions) (QueueInfo, error) {
	vis, maxRecv := rq.VisibilityTimeout, rq.MaxReceiveCount
	if opts.VisibilityTimeout > 0 {
		vis = opts.VisibilityTimeout
	}
	if opts.MaxReceiveCount > 0 {
		maxRecv = opts.MaxReceiveCount
	}
	info := QueueInfo{Name: prefix + "-" + rq.Name, DLQName: prefix + "-" + rq.DLQName(), VisibilityTimeout: vis, MaxReceiveCount: maxRecv}
	retention := strconv.Itoa(int(rq.Retention / time.Second))
	var err error
	info.DLQURL, info.DLQARN, err = ensureOneQueue(ctx, q, info.DLQName, map[string]string{
		string(sqstypes.QueueAttributeNameMessageRetentionPeriod): retention,
	})
	if err != nil {
		return QueueInfo{}, err
	}
	redrive, err := json.Marshal(map[string]any{"deadLetterTargetArn": info.DLQARN, "maxReceiveCount": maxRecv})
	if err != nil {
		return QueueInfo{}, fmt.Errorf("encode redrive policy of %s: %w", info.Name, err)
	}
	info.URL, info.ARN, err = ensureOneQueue(ctx, q, info.Name, map[string]string{
		string(sqstypes.QueueAttributeNameVisibilityTimeout):      strconv.Itoa(int(vis / time.Second)),
		string(sqstypes.QueueAttributeNameMessageRetentionPeriod): retention,
		string(sqstypes.QueueAttributeNameRedrivePolicy):          string(redrive),
	})
	if err != nil {
		return QueueInfo{}, err
	}
	return info, nil
}

// ensureOneQueue creates the queue, or sets attrs on it when it exists with
// other attributes, and returns its URL and ARN.
func ensureOneQueue(ctx context.Context, q *sqs.Client, name string, attrs map[string]string) (url, arn string, err error) {
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	var exists *sqstypes.QueueNameExists
	switch {
	case err == nil:
		url = aws.ToString(out.QueueUrl)
	case errors.As(err, &exists):
		got, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			return "", "", fmt.Errorf("get URL of queue %s: %w", name, err)
		}
		url = aws.ToString(got.QueueUrl)
		if _, err := q.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: attrs}); err != nil {
			return "", "", fmt.Errorf("update queue %s: %w", name, err)
		}
	default:
		return "", "", fmt.Errorf("create queue %s: %w", name, err)
	}
	ga, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("get ARN of queue %s: %w", name, err)
	}
	return url, ga.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

func ensureKey(ctx context.Context, k *kms.Client, prefix string, p *Provisioned) error {
	alias := "alias/" + prefix + "-tokens"
	p.KeyAlias = alias
	pages := kms.NewListAliasesPaginator(k, &kms.ListAliasesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list KMS aliases: %w", err)
		}
		for _, a := range page.Aliases {
			if aws.ToString(a.AliasName) == alias && a.TargetKeyId != nil {
				d, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: a.TargetKeyId})
				if err != nil {
					return fmt.Errorf("describe KMS key %s: %w", aws.ToString(a.TargetKeyId), err)
				}
				p.KeyID, p.KeyARN = aws.ToString(d.KeyMetadata.KeyId), aws.ToString(d.KeyMetadata.Arn)
				return nil
			}
		}
	}
	out, err := k.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec:     kmstypes.KeySpecSymmetricDefault,
		KeyUsage:    kmstypes.KeyUsageTypeEncryptDecrypt,
		Description: aws.String("sfsync " + prefix + ": envelope encryption of Salesforce tokens"),
	})
	if err != nil {
		return fmt.Errorf("create KMS key: %w", err)
	}
	p.KeyID, p.KeyARN = aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn)
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		return fmt.Errorf("create KMS alias %s: %w", alias, err)
	}
	return nil
}

func ensureSecret(ctx context.Context, sm *secretsmanager.Client, name, value string) (string, error) {
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value),
		Description: aws.String("Salesforce connected app consumer secret"),
	})
	if err == nil {
		return aws.ToString(out.ARN), nil
	}
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", name, err)
	}
	if aws.ToString(cur.SecretString) != value {
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)}); err != nil {
			return "", fmt.Errorf("update secret %s: %w", name, err)
		}
	}
	return aws.ToString(cur.ARN), nil
}
