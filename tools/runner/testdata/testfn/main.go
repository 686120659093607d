// Command testfn is a Lambda program for the runner's tests. SQS records
// carry {"action": ...} bodies that tell it how to behave; an API Gateway
// request is echoed back.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type probe struct {
	Records  json.RawMessage `json:"Records"`
	RouteKey string          `json:"routeKey"`
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if p.RouteKey != "" {
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, err
		}
		return echo(ctx, req)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	return batch(ev)
}

func batch(ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, r := range ev.Records {
		var body struct {
			Action string `json:"action"`
		}
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			// A poison message: report it, keep the rest of the batch.
			fmt.Fprintf(os.Stderr, "poison message %s: %v\n", r.MessageId, err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			continue
		}
		first := r.Attributes["ApproximateReceiveCount"] == "1"
		switch body.Action {
		case "fail-once":
			if first {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		case "fail-always":
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		case "crash-once":
			if first {
				fmt.Fprintln(os.Stderr, "crashing on purpose")
				os.Exit(3)
			}
		case "sleep-once":
			if first {
				time.Sleep(time.Minute)
			}
		case "error-once":
			if first {
				return resp, errors.New("handler failed on purpose")
			}
		case "bad-id-once":
			if first {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: "no-such-message"})
			}
		}
	}
	return resp, nil
}

func echo(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if req.QueryStringParameters["crash"] == "1" {
		os.Exit(4)
	}
	if req.QueryStringParameters["fail"] == "1" {
		return events.APIGatewayV2HTTPResponse{}, errors.New("failing on purpose")
	}
	lc, _ := lambdacontext.FromContext(ctx)
	dl, _ := ctx.Deadline()
	out, err := json.Marshal(map[string]any{
		"request":      req,
		"function":     os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
		"runtime_api":  os.Getenv("AWS_LAMBDA_RUNTIME_API"),
		"aws_request":  lc.AwsRequestID,
		"function_arn": lc.InvokedFunctionArn,
		"has_deadline": !dl.IsZero(),
		"connections":  os.Getenv("CONNECTIONS_TABLE"),
		"endpoint":     os.Getenv("AWS_ENDPOINT_URL"),
	})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	resp := events.APIGatewayV2HTTPResponse{
		StatusCode:        200,
		Headers:           map[string]string{"Content-Type": "application/json", "X-Echo": "1"},
		MultiValueHeaders: map[string][]string{"X-Multi": {"a", "b"}},
		Cookies:           []string{"session=abc; Path=/", "theme=dark"},
		Body:              string(out),
	}
	if req.QueryStringParameters["binary"] == "1" {
		resp.Headers["Content-Type"] = "application/octet-stream"
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}), true
	}
	if req.QueryStringParameters["status"] == "201" {
		resp.StatusCode = 201
	}
	return resp, nil
}

func main() { lambda.Start(handle) }
