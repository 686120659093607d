// Command activitysync is the SQS-triggered function that consumes the
// email events (email.sent, replied, opened, clicked, bounced).
// Malformed events go to the dead-letter queue with the reason; valid events
// are handed to the domain processor.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/environ"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/logs"
	"github.com/sfsync/sfsync/shared/queue"
	"github.com/sfsync/sfsync/shared/resources"
)

func main() {
	var env environ.Reader
	dlqURL := env.Require(resources.EnvDeadLetterQueueURL)
	log := logs.New(os.Stdout, env.Optional(resources.EnvLogLevel, "info"))
	if err := env.Err(); err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("aws configuration", "error", err.Error())
		os.Exit(1)
	}
	h := &queue.Handler{Queue: event.ActivityQueue, DLQ: sqs.NewFromConfig(cfg), DLQURL: dlqURL, Log: log,
		// The sync engine lands with the activity sync work; until then events stay queued.
		Processor: queue.Hold{}}
	lambda.Start(h.Handle)
}
