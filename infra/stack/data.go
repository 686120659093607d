package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/sfsync/sfsync/shared/resources"
)

// DataStoreProps configures the tables.
type DataStoreProps struct {
	// Tables to create; every table uses the shared pk/sk key schema and TTL attribute.
	Tables []resources.Table
}

// DataStore holds the stack's DynamoDB tables and the key that encrypts them.
type DataStore struct {
	constructs.Construct
	// Key encrypts the tables at rest. It is not the token key.
	Key    awskms.Key
	Tables map[string]awsdynamodb.Table // by resources.Table.Name
}

// NewDataStore creates on-demand tables with point-in-time recovery, a
// customer-managed KMS key, TTL and deletion protection. Tables and key are
// retained when the stack is deleted.
func NewDataStore(scope constructs.Construct, id string, props *DataStoreProps) *DataStore {
	c := constructs.NewConstruct(scope, jsii.String(id))
	key := awskms.NewKey(c, jsii.String("DataKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the sfsync DynamoDB tables at rest"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	overrideLogicalID(key, "DataKey")

	d := &DataStore{Construct: c, Key: key, Tables: map[string]awsdynamodb.Table{}}
	for _, t := range props.Tables {
		table := awsdynamodb.NewTable(c, jsii.String(pascal(t.Name)), &awsdynamodb.TableProps{
			PartitionKey:  &awsdynamodb.Attribute{Name: jsii.String(resources.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
			SortKey:       &awsdynamodb.Attribute{Name: jsii.String(resources.SortKey), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:   awsdynamodb.BillingMode_PAY_PER_REQUEST,
			Encryption:    awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
			EncryptionKey: key,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			TimeToLiveAttribute: jsii.String(resources.TTLAttribute),
			DeletionProtection:  jsii.Bool(true),
			RemovalPolicy:       awscdk.RemovalPolicy_RETAIN,
		})
		for _, ix := range t.Indexes {
			table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
				IndexName:      jsii.String(ix.Name),
				PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(ix.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
				SortKey:        &awsdynamodb.Attribute{Name: jsii.String(ix.SortKey), Type: awsdynamodb.AttributeType_STRING},
				ProjectionType: awsdynamodb.ProjectionType_ALL,
			})
		}
		overrideLogicalID(table, TableLogicalID(t.Name))
		d.Tables[t.Name] = table
	}
	return d
}

// overrideLogicalID pins the logical id of a construct's CloudFormation resource.
func overrideLogicalID(c constructs.IConstruct, id string) {
	c.Node().DefaultChild().(awscdk.CfnElement).OverrideLogicalId(jsii.String(id))
}

// newLogGroup creates a retained log group keeping events for days (one of
// the values CloudWatch Logs accepts; config validates it).
func newLogGroup(scope constructs.Construct, id *string, days int) awslogs.LogGroup {
	lg := awslogs.NewLogGroup(scope, id, &awslogs.LogGroupProps{RemovalPolicy: awscdk.RemovalPolicy_RETAIN})
	lg.Node().DefaultChild().(awslogs.CfnLogGroup).SetRetentionInDays(jsii.Number(days))
	return lg
}
