package motoserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/tools/motoserver"
)

// TestAtomicProxy: racing conditional writes through the proxy have exactly
// one winner each, as on DynamoDB.
func TestAtomicProxy(t *testing.T) {
	t.Parallel()
	ep, err := motoserver.Shared()
	if err != nil {
		t.Fatal(err)
	}
	p, err := motoserver.StartAtomicProxy(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	cfg, err := motoserver.AWSConfig(ctx, p.URL)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	table := fmt.Sprintf("atomic-proxy-%d", time.Now().UnixNano())
	if err := motoserver.CreateTable(ctx, db, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}}}); err != nil {
		t.Fatal(err)
	}
	for round := range 60 {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
					Key:                       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprint("k", round)}},
					UpdateExpression:          aws.String("SET o = :o"),
					ConditionExpression:       aws.String("attribute_not_exists(o)"),
					ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":o": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprint(i)}}})
				var cf *ddbtypes.ConditionalCheckFailedException
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.As(err, &cf):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d writers won the same conditional claim; want 1", round, n)
		}
	}
}

// TestAtomicProxyTransactions: transactions through the proxy are carried
// out as DynamoDB does: all writes or none (a put, an update and a delete
// done before the failed condition are undone), and a cancellation with a
// reason per item, the item found where a failed write asked for it. Both
// ways are checked: moto's own transactions with the launcher's item
// backups, and the proxy's single writes used with plain moto.
func TestAtomicProxyTransactions(t *testing.T) {
	t.Parallel()
	ep, err := motoserver.Shared()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		start  func(string) (*motoserver.AtomicProxy, error)
		native bool
	}{
		{"moto's transactions", motoserver.StartAtomicProxy, true},
		{"the proxy's single writes", motoserver.StartSingleWriteProxy, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := tt.start(ep)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if got := p.Native(); got != tt.native {
				t.Fatalf("transactions handed to moto: got %v; want %v (moto_server runs through launcher.py)", got, tt.native)
			}
			checkTransactions(t, p.URL, fmt.Sprintf("atomic-proxy-tx-%d-%d", i, time.Now().UnixNano()))
		})
	}
}

func checkTransactions(t *testing.T, endpoint, table string) {
	ctx := context.Background()
	cfg, err := motoserver.AWSConfig(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	if err := motoserver.CreateTable(ctx, db, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}}}); err != nil {
		t.Fatal(err)
	}
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	key := func(k string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"pk": s(k)}
	}
	for _, k := range []string{"k1", "k4", "k5"} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{"pk": s(k), "o": s("x")}}); err != nil {
			t.Fatal(err)
		}
	}
	putNew := func(k string) ddbtypes.TransactWriteItem {
		return ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{"pk": s(k), "o": s("new")},
			ConditionExpression: aws.String("attribute_not_exists(pk)"), ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld}}
	}
	set := func(k, cond string) ddbtypes.TransactWriteItem {
		u := &ddbtypes.Update{TableName: aws.String(table), Key: key(k), UpdateExpression: aws.String("SET o = :n"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":n": s("y")}, ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld}
		if cond != "" {
			u.ConditionExpression = aws.String(cond)
		}
		return ddbtypes.TransactWriteItem{Update: u}
	}
	del := ddbtypes.TransactWriteItem{Delete: &ddbtypes.Delete{TableName: aws.String(table), Key: key("k5")}}
	read := func(k string) string {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(k), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Item == nil {
			return "none"
		}
		return out.Item["o"].(*ddbtypes.AttributeValueMemberS).Value
	}
	state := func() string {
		var got []string
		for _, k := range []string{"k1", "k2", "k3", "k4", "k5"} {
			got = append(got, k+"="+read(k))
		}
		return strings.Join(got, " ")
	}

	_, err = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		putNew("k2"), set("k4", ""), del, set("k1", "attribute_not_exists(o)"), putNew("k3")}})
	var tce *ddbtypes.TransactionCanceledException
	if !errors.As(err, &tce) {
		t.Fatalf("got %v; want a TransactionCanceledException", err)
	}
	var codes []string
	for _, r := range tce.CancellationReasons {
		codes = append(codes, aws.ToString(r.Code))
	}
	if want := []string{"None", "None", "None", "ConditionalCheckFailed", "None"}; fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("reasons: got %v; want %v", codes, want)
	}
	if len(tce.CancellationReasons) == 5 {
		if o, ok := tce.CancellationReasons[3].Item["o"].(*ddbtypes.AttributeValueMemberS); !ok || o.Value != "x" {
			t.Errorf("failed item: got %v; want the stored one (o=x)", tce.CancellationReasons[3].Item)
		}
	}
	if got, want := state(), "k1=x k2=none k3=none k4=x k5=x"; got != want {
		t.Errorf("after the cancelled transaction: got %v; want %v", got, want)
	}

	if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		putNew("k2"), set("k4", ""), del, putNew("k3")}}); err != nil {
		t.Fatalf("got %v; want the transaction written", err)
	}
	if got, want := state(), "k1=x k2=new k3=new k4=y k5=none"; got != want {
		t.Errorf("after the transaction: got %v; want %v", got, want)
	}
}

// TestSplitProxyRoutesByService: DynamoDB requests go to the DynamoDB
// moto_server, every other one to the main one.
func TestSplitProxyRoutesByService(t *testing.T) {
	t.Parallel()
	upstream := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) }))
	}
	rest, dynamo := upstream("main"), upstream("dynamodb")
	defer rest.Close()
	defer dynamo.Close()
	p, err := motoserver.StartSplitProxy(rest.URL, dynamo.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tests := []struct{ target, want string }{
		{"DynamoDB_20120810.GetItem", "dynamodb"},
		{"DynamoDB_20120810.PutItem", "dynamodb"},
		{"AmazonSQS.ReceiveMessage", "main"},
		{"TrentService.Decrypt", "main"},
		{"", "main"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, p.URL, strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", tt.target)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != tt.want {
			t.Errorf("%q: got %q; want %q", tt.target, got, tt.want)
		}
	}
	want := map[string]int64{"DynamoDB_20120810.GetItem": 1, "DynamoDB_20120810.PutItem": 1, "AmazonSQS.ReceiveMessage": 1,
		"TrentService.Decrypt": 1, "other": 1}
	if got := p.Requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests: got %v; want %v", got, want)
	}
}

// TestQueryReadsOnePartition: a Query answers with the partition's items
// only, in sort key order either way, page by page, on the base table and
// on an index, as DynamoDB does (the local stack's moto_server reads only
// the queried partition on the base table: launcher.py).
func TestQueryReadsOnePartition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(sharedConfig(t))
	table := fmt.Sprintf("partition-query-%d", time.Now().UnixNano())
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	if err := motoserver.CreateTable(ctx, db, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema: []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("g"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{IndexName: aws.String("by-g"),
			KeySchema:  []ddbtypes.KeySchemaElement{{AttributeName: aws.String("g"), KeyType: ddbtypes.KeyTypeHash}},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll}}}}); err != nil {
		t.Fatal(err)
	}
	for _, pk := range []string{"a", "b", "c"} {
		for _, sk := range []string{"3", "1", "5", "2", "4"} {
			if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table),
				Item: map[string]ddbtypes.AttributeValue{"pk": s(pk), "sk": s(sk), "g": s("g" + sk)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	query := func(in dynamodb.QueryInput) string {
		in.TableName = aws.String(table)
		var got []string
		p := dynamodb.NewQueryPaginator(db, &in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range out.Items {
				got = append(got, it["pk"].(*ddbtypes.AttributeValueMemberS).Value+it["sk"].(*ddbtypes.AttributeValueMemberS).Value)
			}
		}
		return strings.Join(got, " ")
	}
	eq := func(k, v string) (string, map[string]ddbtypes.AttributeValue) {
		return k + " = :v", map[string]ddbtypes.AttributeValue{":v": s(v)}
	}
	tests := []struct {
		name string
		in   func() dynamodb.QueryInput
		want string
	}{
		{"one partition, in order", func() dynamodb.QueryInput {
			c, v := eq("pk", "b")
			return dynamodb.QueryInput{KeyConditionExpression: &c, ExpressionAttributeValues: v}
		}, "b1 b2 b3 b4 b5"},
		{"backwards, two to a page", func() dynamodb.QueryInput {
			c, v := eq("pk", "c")
			return dynamodb.QueryInput{KeyConditionExpression: &c, ExpressionAttributeValues: v, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(2)}
		}, "c5 c4 c3 c2 c1"},
		{"a sort key range", func() dynamodb.QueryInput {
			c := "pk = :v AND sk BETWEEN :lo AND :hi"
			return dynamodb.QueryInput{KeyConditionExpression: &c,
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": s("a"), ":lo": s("2"), ":hi": s("4")}}
		}, "a2 a3 a4"},
		{"no such partition", func() dynamodb.QueryInput {
			c, v := eq("pk", "z")
			return dynamodb.QueryInput{KeyConditionExpression: &c, ExpressionAttributeValues: v}
		}, ""},
		{"an index: every partition", func() dynamodb.QueryInput {
			c, v := eq("g", "g2")
			return dynamodb.QueryInput{IndexName: aws.String("by-g"), KeyConditionExpression: &c, ExpressionAttributeValues: v}
		}, "a2 b2 c2"},
	}
	for _, tt := range tests {
		got := query(tt.in())
		if tt.name == "an index: every partition" {
			parts := strings.Fields(got)
			slices.Sort(parts)
			got = strings.Join(parts, " ")
		}
		if got != tt.want {
			t.Errorf("%s: got %q; want %q", tt.name, got, tt.want)
		}
	}
}
