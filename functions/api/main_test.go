package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/httpapi"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/shared/sealing"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
)

var awsCfg aws.Config

func TestMain(m *testing.M) {
	ep, err := motoserver.Shared()
	if err == nil {
		awsCfg, err = motoserver.AWSConfig(context.Background(), ep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	motoserver.StopShared()
	os.Exit(code)
}

// Routes whose handlers later work adds (contact sync, field mapping,
// hardening); every other declared route must be served.
var notYetServed = map[string]bool{}

type world struct {
	router *httpapi.Router
	conns  *connectiondb.Store
}

func newWorld(t *testing.T) world {
	t.Helper()
	prov, err := runner.Provision(context.Background(), awsCfg, fmt.Sprintf("api%d", time.Now().UnixNano()%1e9), runner.ProvisionOptions{ClientSecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	s := settings{connectionsTable: prov.Env[resources.EnvConnectionsTable], policiesTable: prov.Env[resources.EnvPoliciesTable],
		ledgerTable: prov.Env[resources.EnvLedgerTable], keyID: prov.KeyID, clientID: "cid", secretARN: prov.Env[resources.EnvClientSecretARN],
		redirectURL: "https://api.example.com/oauth/salesforce/callback", returnURL: "https://app.example.com/integrations",
		contactQueueURL: prov.Env[resources.EnvContactQueueURL]}
	conns := &connectiondb.Store{DB: dynamodb.NewFromConfig(awsCfg), Table: s.connectionsTable,
		Sealer: &sealing.Sealer{KMS: kms.NewFromConfig(awsCfg), KeyID: prov.KeyID}}
	return world{router: newRouter(awsCfg, s, slog.New(slog.NewJSONHandler(io.Discard, nil))), conns: conns}
}

func (w world) call(team, method, path, body string, hdr map[string]string) (int, string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: team, Role: "admin", Subject: "admin-of-" + team}))
	rec := httptest.NewRecorder()
	w.router.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestRouterServesTheDocumentedRoutes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	served := map[string]bool{}
	for _, k := range w.router.Keys() {
		served[k] = true
	}
	for _, r := range resources.Routes {
		if served[r.Key()] == notYetServed[r.Key()] {
			t.Errorf("route %s: served %v; want %v", r.Key(), served[r.Key()], !notYetServed[r.Key()])
		}
	}
	code, body := w.call("team_a", "GET", "/openapi.json", "", nil)
	if code != 200 || !strings.Contains(body, `"openapi"`) {
		t.Errorf("GET /openapi.json: got %d; want 200 with the document", code)
	}
}

// TestTeamsCannotReachEachOther gives team B a connection, settings and a
// sequence override, then calls every served route as team A with team B's
// ids in the path, query and body: nothing of B's is shown or changed.
func TestTeamsCannotReachEachOther(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.conns.Replace(ctx, connection.Connection{TeamID: "team_b", ID: "connb", Environment: connection.EnvProduction,
		LoginURL: "https://login.salesforce.com", InstanceURL: "https://b-secret-org.my.salesforce.com", OrgID: "00DBBBBBBBBBBBBBBB",
		UserID: "005BBBBBBBBBBBBBBB", Username: "admin@b-secret-org.example", ConnectedAt: time.Now(), Status: connection.StatusConnected,
		AccessToken: "00DBBBBBBBBBBBBBBB!b-access", RefreshToken: "b-refresh", Version: 1}); err != nil {
		t.Fatal(err)
	}
	put := map[string]string{"If-Match": `"0"`, "Content-Type": "application/json"}
	if code, body := w.call("team_b", "PUT", "/v1/salesforce/settings", `{"sync_as":"contact","sync_mode":"on_reply","deduplication":false,"activity_tracking":false}`, put); code != 200 {
		t.Fatalf("team B settings: got %d %s", code, body)
	}
	if code, body := w.call("team_b", "PUT", "/v1/sequences/seq_b_only/salesforce", `{"sync_mode":"off","sync_as":"contact","sync_disabled":true}`, put); code != 200 {
		t.Fatalf("team B override: got %d %s", code, body)
	}
	_, bSettings := w.call("team_b", "GET", "/v1/salesforce/settings", "", nil)
	_, bOverride := w.call("team_b", "GET", "/v1/sequences/seq_b_only/salesforce", "", nil)

	bMarkers := []string{"00DBBBBBBBBBBBBBBB", "b-secret-org", "admin-of-team_b", `"on_reply"`, `"sync_disabled":true`}
	bodyWithB := `{"team_id":"team_b","sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true}`
	for _, r := range resources.Routes {
		if notYetServed[r.Key()] || r.Public {
			continue
		}
		path := strings.NewReplacer("{sequence_id}", "seq_b_only", "{contact_id}", "ct_b", "{object}", "lead").Replace(r.Path) + "?team_id=team_b"
		t.Run(r.Key(), func(t *testing.T) {
			code, body := w.call("team_a", r.Method, path, bodyWithB, map[string]string{"If-Match": "*", "Content-Type": "application/json"})
			for _, m := range bMarkers {
				if strings.Contains(body, m) {
					t.Errorf("team A saw team B's %s: %d %s", m, code, body)
				}
			}
			if code >= 500 {
				t.Errorf("got %d %s; want a 2xx or 4xx", code, body)
			}
			if code < 300 && r.Method == "GET" {
				openapitest.Validate(t, r.Method, r.Path, code, []byte(body))
			}
		})
	}
	// Team B's data is untouched.
	if c, err := w.conns.Get(ctx, "team_b"); err != nil || c.Status != connection.StatusConnected {
		t.Errorf("team B connection: got %v %v; want connected", c.Status, err)
	}
	if _, got := w.call("team_b", "GET", "/v1/salesforce/settings", "", nil); got != bSettings {
		t.Errorf("team B settings changed: got %s; want %s", got, bSettings)
	}
	if _, got := w.call("team_b", "GET", "/v1/sequences/seq_b_only/salesforce", "", nil); !sameVersion(got, bOverride) {
		t.Errorf("team B override changed: got %s; want %s", got, bOverride)
	}
}

func sameVersion(a, b string) bool {
	var x, y struct {
		Version int `json:"version"`
	}
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && x.Version == y.Version && x.Version > 0
}
