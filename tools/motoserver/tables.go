package motoserver

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableCreator is the call CreateTable makes.
type TableCreator interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
}

// CreateTable creates a table whose name the caller made unique. The SDK
// sends a request again when its answer is lost, and the local server loses
// one now and then in a loaded test run: a table that already exists is
// then the caller's own, made by the first send.
func CreateTable(ctx context.Context, db TableCreator, in *dynamodb.CreateTableInput) error {
	_, err := db.CreateTable(ctx, in)
	var inUse *ddbtypes.ResourceInUseException
	if errors.As(err, &inUse) {
		return nil
	}
	return err
}

// SentTwice makes a request as the SDK does when the answer to its first
// send is lost: it sends it again and returns the second answer. Tests wrap
// a client's writes with it to check that each write takes its own repeat.
func SentTwice[In, Out any](ctx context.Context, call func(context.Context, In, ...func(*dynamodb.Options)) (Out, error), in In, opts ...func(*dynamodb.Options)) (Out, error) {
	if out, err := call(ctx, in, opts...); err != nil {
		return out, err
	}
	return call(ctx, in, opts...)
}
