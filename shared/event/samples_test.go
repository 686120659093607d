package event

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sfsync/sfsync/shared/resources"
)

// sampleFiles lists the JSON files under events/<dir>, relative to events/.
func sampleFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(eventsDir, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if filepath.Ext(path) != ".json" {
			t.Errorf("%s: only .json files belong here", path)
			return nil
		}
		rel, err := filepath.Rel(eventsDir, path)
		files = append(files, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files under events/%s", dir)
	}
	return files
}

func isOutcomeSample(rel string) bool {
	return strings.HasPrefix(filepath.ToSlash(rel), "samples/outcomes/")
}

func TestInboundSamples(t *testing.T) {
	t.Parallel()
	seen := map[Type]bool{}
	for _, rel := range sampleFiles(t, "samples") {
		if isOutcomeSample(rel) {
			continue
		}
		body := readFile(t, filepath.Join(eventsDir, rel))
		e, err := Decode(body)
		if err != nil {
			t.Errorf("%s: Decode: got %v; want nil", rel, err)
			continue
		}
		seen[e.Type] = true
		t.Run(filepath.Base(rel), func(t *testing.T) {
			t.Parallel()
			checkInbound(t, body, e)
		})
	}
	for _, typ := range Types {
		if !seen[typ] {
			t.Errorf("sample of %s: got none; want one under events/samples", typ)
		}
	}
}

// checkInbound holds a decoded inbound body to the schemas and to the
// encode/decode round trip.
func checkInbound(t *testing.T, body []byte, e Event) {
	t.Helper()
	if err := schemaValidate(schema(t, string(e.Type)), body); err != nil {
		t.Errorf("%s schema: got %v; want valid", e.Type, err)
	}
	if err := schemaValidate(schema(t, "envelope"), body); err != nil {
		t.Errorf("envelope schema: got %v; want valid", err)
	}
	for _, other := range Types {
		if other != e.Type && schemaValidate(schema(t, string(other)), body) == nil {
			t.Errorf("%s schema on a %s: got valid; want invalid", other, e.Type)
		}
	}
	if got, want := e.Version, Version; got != want {
		t.Errorf("version: got %v; want %v", got, want)
	}
	if e.ContactID() == "" || e.Email() == "" {
		t.Errorf("ContactID, Email: got %q, %q; want both set", e.ContactID(), e.Email())
	}
	if got, want := e.SequenceID() == "", !e.Type.HasSequence(); got != want {
		t.Errorf("SequenceID empty: got %v; want %v", got, want)
	}
	// Every sample that may name its rep does, so the contract's examples
	// show data.user; contact.created may not.
	if got, want := e.User() != nil, e.Type != ContactCreated; got != want {
		t.Errorf("User set: got %v; want %v", got, want)
	}
	switch d := e.Data.(type) {
	case ContactData:
		if !e.Type.IsContact() {
			t.Errorf("data of %s: got ContactData; want EmailData", e.Type)
		}
		// The sample of contact.unsubscribed shows its reason; no other
		// type has one.
		if got, want := d.Reason != "", e.Type == ContactUnsubscribed; got != want {
			t.Errorf("data.reason set: got %v; want %v", got, want)
		}
	case EmailData:
		if !e.Type.IsEmail() {
			t.Errorf("data of %s: got EmailData; want ContactData", e.Type)
		}
	default:
		t.Errorf("data: got %T; want ContactData or EmailData", e.Data)
	}

	// Round trip: what we encode is valid by both rules and decodes to the same
	// event; so does what encoding/json writes.
	for name, marshal := range map[string]func(Event) ([]byte, error){
		"Encode":       Encode,
		"json.Marshal": func(e Event) ([]byte, error) { return json.Marshal(e) },
	} {
		out, err := marshal(e)
		if err != nil {
			t.Fatalf("%s: got %v; want nil", name, err)
		}
		back, err := Decode(out)
		if err != nil {
			t.Fatalf("Decode(%s): got %v; want nil", name, err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Errorf("Decode(%s(e)): got %+v; want %+v", name, back, e)
		}
		if err := schemaValidate(schema(t, string(e.Type)), out); err != nil {
			t.Errorf("%s output against the %s schema: got %v; want valid", name, e.Type, err)
		}
	}
}

func TestOutcomeSamples(t *testing.T) {
	t.Parallel()
	statuses := map[Status]bool{}
	for _, rel := range sampleFiles(t, "samples/outcomes") {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			body := readFile(t, filepath.Join(eventsDir, rel))
			if err := schemaValidate(schema(t, "outcome"), body); err != nil {
				t.Errorf("outcome schema: got %v; want valid", err)
			}
			var o Outcome
			if err := json.Unmarshal(body, &o); err != nil {
				t.Fatalf("unmarshal: got %v; want nil", err)
			}
			statuses[o.Status] = true
			if err := o.Validate(); err != nil {
				t.Errorf("Validate: got %v; want nil", err)
			}
			out, err := json.Marshal(o)
			if err != nil {
				t.Fatalf("marshal: got %v; want nil", err)
			}
			var got, want any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip: got %s; want %s", out, body)
			}
		})
	}
	for _, s := range []Status{StatusCreated, StatusLinked, StatusUpdated, StatusPending, StatusSkipped, StatusFailed, StatusExistsInSalesforce, StatusNotInSalesforce} {
		if !statuses[s] {
			t.Errorf("outcome sample with status %s: got none; want one under events/samples/outcomes", s)
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestLambdaEvents checks every test event under events/lambda: SQS batches as
// the sync functions receive them, and HTTP API requests as the api function
// receives them.
func TestLambdaEvents(t *testing.T) {
	t.Parallel()
	for _, rel := range sampleFiles(t, "lambda") {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			t.Parallel()
			body := readFile(t, filepath.Join(eventsDir, rel))
			var shape map[string]json.RawMessage
			if err := json.Unmarshal(body, &shape); err != nil {
				t.Fatalf("unmarshal: got %v; want nil", err)
			}
			switch {
			case shape["Records"] != nil:
				checkSQSEvent(t, body)
			case shape["requestContext"] != nil:
				checkHTTPRequest(t, body)
			default:
				t.Fatalf("shape: got neither an SQS batch (Records) nor an HTTP API request (requestContext)")
			}
		})
	}
}

// TestLambdaBodiesAreTheSamples: the SQS test events carry the samples
// themselves (compact), so a change to a sample reaches them too.
func TestLambdaBodiesAreTheSamples(t *testing.T) {
	t.Parallel()
	samples := map[string]any{}
	for _, rel := range sampleFiles(t, "samples") {
		if isOutcomeSample(rel) {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal(readFile(t, filepath.Join(eventsDir, rel)), &v); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		samples[v["id"].(string)] = v
	}
	for _, rel := range sampleFiles(t, "lambda") {
		var batch events.SQSEvent
		if err := json.Unmarshal(readFile(t, filepath.Join(eventsDir, rel)), &batch); err != nil || len(batch.Records) == 0 {
			continue // not an SQS batch
		}
		for i, r := range batch.Records {
			var body map[string]any
			if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
				t.Fatalf("%s record %d: %v", rel, i, err)
			}
			id, _ := body["id"].(string)
			if want, ok := samples[id]; !ok || !reflect.DeepEqual(body, want) {
				t.Errorf("%s record %d body: got %s; want the sample with id %q", rel, i, r.Body, id)
			}
		}
	}
}

func checkSQSEvent(t *testing.T, body []byte) {
	var batch events.SQSEvent
	if err := json.Unmarshal(body, &batch); err != nil {
		t.Fatalf("unmarshal SQSEvent: got %v; want nil", err)
	}
	if len(batch.Records) == 0 {
		t.Fatal("records: got 0; want at least 1")
	}
	queues := map[string]bool{}
	for i, r := range batch.Records {
		if !uuidRE.MatchString(r.MessageId) {
			t.Errorf("record %d messageId: got %q; want a UUID", i, r.MessageId)
		}
		if r.ReceiptHandle == "" || r.EventSource != "aws:sqs" || r.AWSRegion == "" {
			t.Errorf("record %d: got receiptHandle %q, eventSource %q, awsRegion %q; want all set, eventSource aws:sqs", i, r.ReceiptHandle, r.EventSource, r.AWSRegion)
		}
		if n, err := strconv.Atoi(r.Attributes["ApproximateReceiveCount"]); err != nil || n < 1 {
			t.Errorf("record %d ApproximateReceiveCount: got %q; want an integer >= 1", i, r.Attributes["ApproximateReceiveCount"])
		}
		sum := md5.Sum([]byte(r.Body))
		if got, want := r.Md5OfBody, hex.EncodeToString(sum[:]); got != want {
			t.Errorf("record %d md5OfBody: got %v; want %v", i, got, want)
		}
		e, err := Decode([]byte(r.Body))
		if err != nil {
			t.Errorf("record %d body: got %v; want a valid event", i, err)
			continue
		}
		if err := schemaValidate(schema(t, "envelope"), []byte(r.Body)); err != nil {
			t.Errorf("record %d body against the envelope schema: got %v; want valid", i, err)
		}
		if !strings.HasPrefix(r.EventSourceARN, "arn:aws:sqs:"+r.AWSRegion+":") || !strings.HasSuffix(r.EventSourceARN, "-"+e.Queue()) {
			t.Errorf("record %d eventSourceARN: got %q; want an SQS ARN in %s of a queue named *-%s", i, r.EventSourceARN, r.AWSRegion, e.Queue())
		}
		queues[e.Queue()] = true
	}
	if len(queues) != 1 {
		t.Errorf("queues in one batch: got %v; want exactly one", queues)
	}
}

func checkHTTPRequest(t *testing.T, body []byte) {
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatalf("unmarshal APIGatewayV2HTTPRequest: got %v; want nil", err)
	}
	if req.Version != "2.0" {
		t.Errorf("version: got %q; want 2.0", req.Version)
	}
	var route *resources.Route
	for i, r := range resources.Routes {
		if r.Key() == req.RouteKey {
			route = &resources.Routes[i]
		}
	}
	if route == nil {
		t.Fatalf("routeKey: got %q; want one of resources.Routes", req.RouteKey)
	}
	if got, want := req.RequestContext.RouteKey, req.RouteKey; got != want {
		t.Errorf("requestContext.routeKey: got %v; want %v", got, want)
	}
	if got, want := req.RequestContext.HTTP.Method, route.Method; got != want {
		t.Errorf("requestContext.http.method: got %v; want %v", got, want)
	}
	if got, want := req.RequestContext.HTTP.Path, req.RawPath; got != want {
		t.Errorf("requestContext.http.path: got %v; want %v", got, want)
	}
	if route.Public {
		return
	}
	if req.RequestContext.Authorizer == nil || req.RequestContext.Authorizer.JWT == nil {
		t.Fatal("requestContext.authorizer.jwt: got nil; want the verified claims")
	}
	claims := req.RequestContext.Authorizer.JWT.Claims
	if p := checkID(claims["team_id"]); p != "" {
		t.Errorf("claim team_id %q: got %s; want an id", claims["team_id"], p)
	}
	if role := claims["role"]; !slices.Contains([]string{"admin", "member"}, role) || (route.Admin && role != "admin") {
		t.Errorf("claim role: got %q; want admin or member (admin on an admin route)", role)
	}
	if req.Body != "" && !json.Valid([]byte(req.Body)) {
		t.Errorf("body: got %q; want JSON", req.Body)
	}
}

func TestQueuesAreDeclared(t *testing.T) {
	t.Parallel()
	for _, typ := range Types {
		q := typ.Queue()
		if !slices.ContainsFunc(resources.Queues, func(r resources.Queue) bool { return r.Name == q }) {
			t.Errorf("%s.Queue(): got %q; want a queue of resources.Queues", typ, q)
		}
	}
	if got := Type("contact.deleted").Queue(); got != "" {
		t.Errorf("unknown type's queue: got %q; want empty", got)
	}
}
