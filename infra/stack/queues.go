package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/sfsync/sfsync/shared/resources"
)

// DLQRetention is how long a dead-lettered message is kept: the SQS maximum,
// so an operator has two weeks to redrive it.
const DLQRetention = 14 * 24 * 3600

// QueuesProps configures the queues.
type QueuesProps struct {
	Queues []resources.Queue
	// ConsumerTimeout is the longest timeout of a function consuming a queue,
	// by queue name; the queue's visibility timeout must be at least 6x it.
	ConsumerTimeout map[string]int // seconds
}

// Queue is one queue and its dead-letter queue.
type Queue struct {
	Decl resources.Queue
	Main awssqs.Queue
	DLQ  awssqs.Queue
}

// Queues holds the stack's queues by resources.Queue.Name.
type Queues struct {
	constructs.Construct
	ByName map[string]*Queue
}

// NewQueues creates each declared queue with a dead-letter queue, server-side
// encryption with SQS-managed keys (so the sequencer can send from its own
// account without a grant on one of our KMS keys), TLS-only access and
// redrive after MaxReceiveCount receives.
func NewQueues(scope constructs.Construct, id string, props *QueuesProps) (*Queues, error) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	q := &Queues{Construct: c, ByName: map[string]*Queue{}}
	for _, decl := range props.Queues {
		vis := int(decl.VisibilityTimeout.Seconds())
		if t := props.ConsumerTimeout[decl.Name]; vis < 6*t {
			return nil, fmt.Errorf("queue %s: visibility timeout %ds is less than 6x its consumer's timeout %ds", decl.Name, vis, t)
		}
		if decl.MaxReceiveCount < 5 {
			return nil, fmt.Errorf("queue %s: maxReceiveCount %d is below 5, throttled receives would dead-letter healthy messages", decl.Name, decl.MaxReceiveCount)
		}
		dlq := awssqs.NewQueue(c, jsii.String(pascal(decl.Name)+"DLQ"), &awssqs.QueueProps{
			Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:      jsii.Bool(true),
			RetentionPeriod: awscdk.Duration_Seconds(jsii.Number(DLQRetention)),
		})
		overrideLogicalID(dlq, DLQLogicalID(decl.Name))
		main := awssqs.NewQueue(c, jsii.String(pascal(decl.Name)), &awssqs.QueueProps{
			Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:        jsii.Bool(true),
			VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(vis)),
			RetentionPeriod:   awscdk.Duration_Seconds(jsii.Number(decl.Retention.Seconds())),
			DeadLetterQueue: &awssqs.DeadLetterQueue{
				Queue:           dlq,
				MaxReceiveCount: jsii.Number(decl.MaxReceiveCount),
			},
		})
		overrideLogicalID(main, QueueLogicalID(decl.Name))
		q.ByName[decl.Name] = &Queue{Decl: decl, Main: main, DLQ: dlq}
	}
	return q, nil
}
