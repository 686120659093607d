package orgs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/platform/sealing"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

var awsCfg aws.Config

func TestMain(m *testing.M) {
	ep, err := motoserver.Shared()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	awsCfg, err = motoserver.AWSConfig(context.Background(), ep)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	motoserver.StopShared()
	os.Exit(code)
}

const (
	testClientID     = "orgs-test-client"
	testClientSecret = "orgs-test-secret"
	testTeam         = "team_orgs"
)

// env is one test's world: a simulated org, a connections table and KMS key
// on moto, and a team connected to the org.
type env struct {
	t         *testing.T
	sim       *org.Org
	store     *connectiondb.Store
	db        *countingDB
	orgs      *orgs.Orgs
	refreshes *atomic.Int64 // refresh_token grants sent to the org
	dataHook  atomic.Pointer[func(*http.Request)]
	admin     string // an access token for acting as a Salesforce user
}

// countingDB is the real DynamoDB client, counting the writes RecordUsage makes.
type countingDB struct {
	*dynamodb.Client
	updates atomic.Int64
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.updates.Add(1)
	return c.Client.UpdateItem(ctx, in, opts...)
}

// wire counts refresh grants and lets a test act just before a data call.
type wire struct{ e *env }

func (w wire) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/services/oauth2/token" && r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		if form, _ := url.ParseQuery(string(body)); form.Get("grant_type") == "refresh_token" {
			w.e.refreshes.Add(1)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if h := w.e.dataHook.Load(); h != nil && r.URL.Path != "/services/oauth2/token" {
		(*h)(r)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newEnv(t *testing.T, cfg org.Config) *env {
	t.Helper()
	ctx := context.Background()
	cfg.ClientID, cfg.ClientSecret = testClientID, testClientSecret
	cfg.RedirectURIs = []string{"http://127.0.0.1:9/oauth/salesforce/callback"}
	sim := org.New(cfg)
	if _, err := sim.Start(); err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })

	ddb := dynamodb.NewFromConfig(awsCfg)
	table := "orgs-test-" + randomHex(6)
	if err := motoserver.CreateTable(ctx, ddb, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String(resources.PartitionKey), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(resources.SortKey), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String(resources.PartitionKey), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String(resources.SortKey), KeyType: ddbtypes.KeyTypeRange},
		},
	}); err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	kc := kms.NewFromConfig(awsCfg)
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("orgs test " + table)})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}

	e := &env{t: t, sim: sim, refreshes: &atomic.Int64{}, db: &countingDB{Client: ddb}}
	e.store = &connectiondb.Store{DB: e.db, Table: table, Sealer: &sealing.Sealer{KMS: kc, KeyID: aws.ToString(key.KeyMetadata.KeyId)}}
	hc := &http.Client{Transport: wire{e}, Timeout: 10 * time.Second}
	connector := &connection.Connector{Store: e.store, HTTP: hc, Config: connection.OAuthConfig{
		ClientID: testClientID, RedirectURL: cfg.RedirectURIs[0], AllowInsecureLoginURLs: true,
		ClientSecret: func(context.Context) (string, error) { return testClientSecret, nil }}}
	e.orgs = &orgs.Orgs{Store: e.store, Connector: connector, Holder: "test-" + randomHex(4), HTTP: hc}

	tok := sim.IssueTokens()
	if _, err := e.store.Replace(ctx, connection.Connection{TeamID: testTeam, ID: "conn_" + randomHex(4),
		Environment: connection.EnvCustom, LoginURL: sim.URL(), InstanceURL: tok.InstanceURL, OrgID: sim.OrgID(),
		UserID: sim.UserID(), ConnectedAt: time.Now().UTC(), Status: connection.StatusConnected,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Version: 1}); err != nil {
		t.Fatalf("store connection: %v", err)
	}
	e.admin = sim.IssueTokens().AccessToken
	return e
}

// open opens the test team's org.
func (e *env) open() *orgs.Org {
	e.t.Helper()
	o, _, err := e.orgs.Open(context.Background(), testTeam)
	if err != nil {
		e.t.Fatalf("open: %v", err)
	}
	return o
}

// seed inserts records and returns their ids.
func (e *env) seed(object string, recs ...map[string]any) []string {
	e.t.Helper()
	ids, err := e.sim.Seed(object, recs...)
	if err != nil {
		e.t.Fatalf("seed %s: %v", object, err)
	}
	return ids
}

// calls is the org's API call count, as Salesforce counts it.
func (e *env) calls() int { return e.sim.Stats().Total }

// update changes a record as a Salesforce user would, through the REST API.
func (e *env) update(object, id string, fields map[string]any) {
	e.t.Helper()
	body, _ := json.Marshal(fields)
	req, _ := http.NewRequest(http.MethodPatch, e.sim.URL()+"/services/data/v62.0/sobjects/"+object+"/"+id, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("update %s %s: %v", object, id, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		e.t.Fatalf("update %s %s: got %d %s; want 204", object, id, resp.StatusCode, b)
	}
}

// nextMillisecond waits until the clock has moved past the current
// millisecond, so the next write gets a later LastModifiedDate.
func nextMillisecond() {
	start := time.Now().UTC().Truncate(time.Millisecond)
	for !time.Now().UTC().Truncate(time.Millisecond).After(start) {
		time.Sleep(200 * time.Microsecond)
	}
}
