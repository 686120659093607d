package connectiondb_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/platform/sealing"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

var (
	db     *dynamodb.Client
	sealer *sealing.Sealer
)

func TestMain(m *testing.M) {
	code := run(m)
	motoserver.StopShared()
	os.Exit(code)
}

func run(m *testing.M) int {
	ctx := context.Background()
	ep, err := motoserver.Shared()
	if err != nil {
		fmt.Fprintln(os.Stderr, "moto:", err)
		return 1
	}
	cfg, err := motoserver.AWSConfig(ctx, ep)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	db = dynamodb.NewFromConfig(cfg)
	k := kms.NewFromConfig(cfg)
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("connectiondb tests")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "create key:", err)
		return 1
	}
	sealer = &sealing.Sealer{KMS: k, KeyID: aws.ToString(key.KeyMetadata.KeyId)}
	return m.Run()
}

func newStore(t *testing.T) *connectiondb.Store {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "connections-" + hex.EncodeToString(b)
	err := motoserver.CreateTable(context.Background(), db, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String(resources.PartitionKey), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(resources.SortKey), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String(resources.PartitionKey), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String(resources.SortKey), KeyType: ddbtypes.KeyTypeRange},
		},
		BillingMode: ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return &connectiondb.Store{DB: db, Table: name, Sealer: sealer}
}

const team = "team_a"

func conn(id, access, refresh string) connection.Connection {
	return connection.Connection{TeamID: team, ID: id, Environment: connection.EnvProduction, LoginURL: connection.ProductionLoginURL,
		InstanceURL: "https://acme.my.salesforce.com", OrgID: "00Dx0000000BV7zEAG", UserID: "005x00000012Q9PAAU", Username: "admin@acme.example",
		ConnectedAt: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), ConnectedBy: "admin_1", Status: connection.StatusConnected,
		AccessToken: access, RefreshToken: refresh, Version: 1}
}

// lapseLease makes the team's refresh lease look expired, as it does when its
// holder outlives LeaseTTL (20 s) without the test waiting that long.
func lapseLease(t *testing.T, s *connectiondb.Store) {
	t.Helper()
	_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: &s.Table,
		Key: map[string]ddbtypes.AttributeValue{
			resources.PartitionKey: &ddbtypes.AttributeValueMemberS{Value: "TEAM#" + team},
			resources.SortKey:      &ddbtypes.AttributeValueMemberS{Value: "CONNECTION"},
		},
		UpdateExpression:          aws.String("SET lease_until = :past"),
		ConditionExpression:       aws.String("attribute_exists(lease_holder)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":past": &ddbtypes.AttributeValueMemberN{Value: "1"}}})
	if err != nil {
		t.Fatalf("lapse lease: %v", err)
	}
}

func TestRefreshLease(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Replace(ctx, conn("c1", "a1", "r1")); err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(connection.LeaseTTL) }
	earlier := func() time.Time { return time.Now().Add(-time.Second) }
	steps := []struct {
		name   string
		op     string // acquire | release
		holder string
		until  func() time.Time
		want   bool
	}{
		{"A takes the free lease", "acquire", "A", later, true},
		{"B waits while A holds it", "acquire", "B", later, false},
		{"A extends its own lease", "acquire", "A", later, true},
		{"B cannot release A's lease", "release", "B", nil, true},
		{"so B still waits", "acquire", "B", later, false},
		{"A's lease lapses", "acquire", "A", earlier, true},
		{"B takes the lapsed lease", "acquire", "B", later, true},
		{"A, lapsed, cannot take it back", "acquire", "A", later, false},
		{"A's late release leaves B's lease", "release", "A", nil, true},
		{"C waits while B holds it", "acquire", "C", later, false},
		{"B releases", "release", "B", nil, true},
		{"C takes the released lease", "acquire", "C", later, true},
	}
	for _, st := range steps {
		switch st.op {
		case "acquire":
			got, err := s.AcquireLease(ctx, team, st.holder, st.until())
			if err != nil || got != st.want {
				t.Fatalf("%s: AcquireLease(%s): got %v, %v; want %v", st.name, st.holder, got, err, st.want)
			}
		case "release":
			if err := s.ReleaseLease(ctx, team, st.holder); err != nil {
				t.Fatalf("%s: ReleaseLease(%s): got %v; want nil", st.name, st.holder, err)
			}
		}
	}
	// A lease never creates a connection.
	if got, err := s.AcquireLease(ctx, "team_without_connection", "A", later()); err != nil || got {
		t.Errorf("lease of a team without a connection: got %v, %v; want false", got, err)
	}
	if _, err := s.Get(ctx, "team_without_connection"); !errors.Is(err, connection.ErrNotConnected) {
		t.Errorf("after a lease attempt: got %v; want ErrNotConnected", err)
	}
}

func TestTokenWritesAreFencedByVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type write func(s *connectiondb.Store) error
	saveTokens := func(id string, v int64, access, refresh string) write {
		return func(s *connectiondb.Store) error {
			_, err := s.SaveTokens(ctx, team, id, v, access, refresh, "")
			return err
		}
	}
	setStatus := func(id string, v int64, st connection.Status) write {
		return func(s *connectiondb.Store) error { return s.SetStatus(ctx, team, id, v, st, connection.Problem{}) }
	}
	tests := []struct {
		name    string
		before  []write // applied to c1 at version 1 (a1, r1), each must succeed
		write   write
		wantErr error
		want    connection.Connection // Status, Version, AccessToken, RefreshToken, ID
	}{
		{"refresh at the version read", nil, saveTokens("c1", 1, "a2", ""), nil,
			connection.Connection{ID: "c1", Status: connection.StatusConnected, Version: 2, AccessToken: "a2", RefreshToken: "r1"}},
		{"rotation stores the new refresh token", nil, saveTokens("c1", 1, "a2", "r2"), nil,
			connection.Connection{ID: "c1", Status: connection.StatusConnected, Version: 2, AccessToken: "a2", RefreshToken: "r2"}},
		{"a lapsed holder cannot overwrite newer tokens", []write{saveTokens("c1", 1, "a2", "r2")}, saveTokens("c1", 1, "a-late", "r-late"),
			connection.ErrVersionConflict,
			connection.Connection{ID: "c1", Status: connection.StatusConnected, Version: 2, AccessToken: "a2", RefreshToken: "r2"}},
		{"nor tokens of a connection that was replaced", []write{func(s *connectiondb.Store) error {
			_, err := s.Replace(ctx, conn("c2", "b1", "q1"))
			return err
		}}, saveTokens("c1", 1, "a-late", "r-late"), connection.ErrVersionConflict,
			connection.Connection{ID: "c2", Status: connection.StatusConnected, Version: 1, AccessToken: "b1", RefreshToken: "q1"}},
		{"a refusal read before a refresh is not a revocation", []write{saveTokens("c1", 1, "a2", "r2")},
			setStatus("c1", 1, connection.StatusNeedsReauth), connection.ErrVersionConflict,
			connection.Connection{ID: "c1", Status: connection.StatusConnected, Version: 2, AccessToken: "a2", RefreshToken: "r2"}},
		{"a refusal of the current version is", nil, setStatus("c1", 1, connection.StatusNeedsReauth), nil,
			connection.Connection{ID: "c1", Status: connection.StatusNeedsReauth, Version: 2, AccessToken: "a1", RefreshToken: "r1"}},
		{"saving granted tokens over needs_reauth makes the team live", []write{setStatus("c1", 1, connection.StatusNeedsReauth)},
			saveTokens("c1", 2, "a2", "r2"), nil,
			connection.Connection{ID: "c1", Status: connection.StatusConnected, Version: 3, AccessToken: "a2", RefreshToken: "r2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if _, err := s.Replace(ctx, conn("c1", "a1", "r1")); err != nil {
				t.Fatal(err)
			}
			for i, w := range tt.before {
				if err := w(s); err != nil {
					t.Fatalf("write %d before: %v", i, err)
				}
			}
			if err := tt.write(s); !errors.Is(err, tt.wantErr) {
				t.Fatalf("write: got %v; want %v", err, tt.wantErr)
			}
			c, err := s.Get(ctx, team)
			if err != nil {
				t.Fatal(err)
			}
			got := connection.Connection{ID: c.ID, Status: c.Status, Version: c.Version, AccessToken: c.AccessToken, RefreshToken: c.RefreshToken}
			if got != tt.want {
				t.Errorf("stored: got %+v; want %+v", got, tt.want)
			}
		})
	}
	t.Run("a deleted connection is not written back", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.Replace(ctx, conn("c1", "a1", "r1")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, team); err != nil {
			t.Fatal(err)
		}
		for _, w := range []write{saveTokens("c1", 1, "a2", "r2"), setStatus("c1", 1, connection.StatusNeedsReauth)} {
			if err := w(s); !errors.Is(err, connection.ErrVersionConflict) {
				t.Errorf("write after delete: got %v; want ErrVersionConflict", err)
			}
		}
		if _, err := s.Get(ctx, team); !errors.Is(err, connection.ErrNotConnected) {
			t.Errorf("after writes to a deleted connection: got %v; want ErrNotConnected", err)
		}
	})
}

// wire records the OAuth traffic: refresh grants and their outcome, and the
// refresh tokens Salesforce handed out.
type wire struct {
	mu      sync.Mutex
	grants  []string // "ok" or the OAuth error code, in order
	issued  []string // refresh tokens in token responses
	revoked []string
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	var form url.Values
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		form, _ = url.ParseQuery(string(b))
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch r.URL.Path {
	case "/services/oauth2/revoke":
		w.revoked = append(w.revoked, form.Get("token"))
	case "/services/oauth2/token":
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		var m map[string]string
		_ = json.Unmarshal(b, &m)
		if m["refresh_token"] != "" {
			w.issued = append(w.issued, m["refresh_token"])
		}
		if form.Get("grant_type") == "refresh_token" {
			outcome := "ok"
			if m["error"] != "" {
				outcome = m["error"]
			}
			w.grants = append(w.grants, outcome)
		}
	}
	return resp, nil
}

func (w *wire) snapshot() (grants, issued, revoked []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.grants...), append([]string(nil), w.issued...), append([]string(nil), w.revoked...)
}

// hooked is the store as worker A sees it: meddle runs once, at the chosen
// point of A's refresh, to play what other workers do meanwhile.
type hooked struct {
	connection.Store
	at     string // "read under lease" (A's second Get) or "save" (before A's SaveTokens)
	meddle func()
	gets   int
	done   bool
}

func (h *hooked) fire(point string) {
	if !h.done && h.at == point {
		h.done = true
		h.meddle()
	}
}

func (h *hooked) Get(ctx context.Context, teamID string) (connection.Connection, error) {
	c, err := h.Store.Get(ctx, teamID)
	h.gets++
	if h.gets == 2 {
		h.fire("read under lease")
	}
	return c, err
}

func (h *hooked) SaveTokens(ctx context.Context, teamID, connID string, version int64, access, refresh, instance string) (int64, error) {
	h.fire("save")
	return h.Store.SaveTokens(ctx, teamID, connID, version, access, refresh, instance)
}

type world struct {
	t         *testing.T
	sim       *org.Org
	store     *connectiondb.Store
	connector *connection.Connector
	wire      *wire
	first     org.Tokens // the grant the team connected with
}

func newWorld(t *testing.T, rotate bool) *world {
	t.Helper()
	sim := org.New(org.Config{ClientID: "cid", ClientSecret: "csecret", Rotate: rotate})
	if _, err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	w := &world{t: t, sim: sim, store: newStore(t), wire: &wire{}}
	w.connector = &connection.Connector{Store: w.store, HTTP: &http.Client{Transport: w.wire},
		Config: connection.OAuthConfig{ClientID: "cid", AllowInsecureLoginURLs: true,
			ClientSecret: func(context.Context) (string, error) { return "csecret", nil }}}
	w.first = sim.IssueTokens()
	w.replace("c1", w.first)
	return w
}

func (w *world) replace(id string, tok org.Tokens) {
	w.t.Helper()
	c := conn(id, tok.AccessToken, tok.RefreshToken)
	c.LoginURL, c.InstanceURL, c.Environment = w.sim.URL(), tok.InstanceURL, connection.EnvCustom
	if _, err := w.store.Replace(context.Background(), c); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) tokens(holder string, s connection.Store) *connection.Tokens {
	return &connection.Tokens{TeamID: team, Store: s, Connector: w.connector, Holder: holder}
}

// grantWorks reports whether Salesforce still accepts refresh; it spends the
// token when rotation is on, so use it only on tokens that should be dead.
func (w *world) grantWorks(refresh string) bool {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {"cid"}, "client_secret": {"csecret"}}
	resp, err := http.PostForm(w.sim.URL()+"/services/oauth2/token", form)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// queryWorks makes a data call with whatever the store holds, refreshing
// first: the stored grant is live.
func (w *world) queryWorks(holder string) error {
	w.sim.ExpireAccessTokens()
	_, err := salesforce.Query[map[string]any](context.Background(), &salesforce.Client{Session: w.tokens(holder, w.store)}, "SELECT Id FROM Lead")
	return err
}

// TestRefreshRacesUnderALapsedLease plays worker A's refresh while its lease
// lapses and worker B (or an admin) acts in between, at the point where it
// hurts most, and checks what A gets, what is stored and what still works at
// Salesforce.
func TestRefreshRacesUnderALapsedLease(t *testing.T) {
	t.Parallel()
	type outcome struct {
		errB error // B's refresh, when B refreshes
		tokB salesforce.Token
	}
	tests := []struct {
		name   string
		rotate bool
		at     string
		meddle func(w *world, stale salesforce.Token, o *outcome)
		// wantA: "B" (A returns B's token), "own" (A's fresh token), or an error
		wantA      string
		wantErrA   error
		wantErrB   error
		wantStatus connection.Status // "" when the connection is gone
		wantGrants []string          // refresh grants at Salesforce, in order
		check      func(t *testing.T, w *world, o *outcome)
	}{
		{
			name: "without rotation a lapsed holder's save loses to B's newer tokens", rotate: false, at: "save",
			meddle: func(w *world, stale salesforce.Token, o *outcome) {
				lapseLease(w.t, w.store)
				o.tokB, o.errB = w.tokens("B", w.store).Refresh(context.Background(), stale)
			},
			wantA: "B", wantStatus: connection.StatusConnected, wantGrants: []string{"ok", "ok"},
			check: func(t *testing.T, w *world, o *outcome) {
				if c, _ := w.store.Get(context.Background(), team); c.AccessToken != o.tokB.AccessToken || c.Version != 2 {
					t.Errorf("stored: got version %d and another access token; want B's tokens at version 2", c.Version)
				}
			},
		},
		{
			name: "with rotation a refusal after B rotated is a lost race, not a revocation", rotate: true, at: "read under lease",
			meddle: func(w *world, stale salesforce.Token, o *outcome) {
				lapseLease(w.t, w.store)
				o.tokB, o.errB = w.tokens("B", w.store).Refresh(context.Background(), stale)
			},
			wantA: "B", wantStatus: connection.StatusConnected, wantGrants: []string{"ok", "invalid_grant"},
			check: func(t *testing.T, w *world, o *outcome) {
				_, issued, _ := w.wire.snapshot()
				if c, _ := w.store.Get(context.Background(), team); c.RefreshToken != issued[len(issued)-1] {
					t.Errorf("stored refresh token: got another; want B's rotated one")
				}
			},
		},
		{
			name: "with rotation a lapsed holder keeps its rotated token over the needs_reauth its rotation caused", rotate: true, at: "save",
			meddle: func(w *world, stale salesforce.Token, o *outcome) {
				lapseLease(w.t, w.store)
				o.tokB, o.errB = w.tokens("B", w.store).Refresh(context.Background(), stale)
				if c, _ := w.store.Get(context.Background(), team); c.Status != connection.StatusNeedsReauth {
					w.t.Errorf("between: got %s; want B to have marked needs_reauth", c.Status)
				}
			},
			wantA: "own", wantErrB: connection.ErrNeedsReauth, wantStatus: connection.StatusConnected, wantGrants: []string{"ok", "invalid_grant"},
			check: func(t *testing.T, w *world, o *outcome) {
				_, issued, _ := w.wire.snapshot()
				c, _ := w.store.Get(context.Background(), team)
				if c.RefreshToken != issued[len(issued)-1] || c.Version != 3 {
					t.Errorf("stored: got version %d; want A's rotated refresh token at version 3", c.Version)
				}
			},
		},
		{
			name: "with rotation a token rotated for a connection that was replaced meanwhile is revoked", rotate: true, at: "save",
			meddle: func(w *world, stale salesforce.Token, o *outcome) {
				second := w.sim.IssueTokens()
				w.replace("c2", second)
				o.tokB = salesforce.Token{AccessToken: second.AccessToken, InstanceURL: second.InstanceURL}
			},
			wantA: "B", wantStatus: connection.StatusConnected, wantGrants: []string{"ok"},
			check: func(t *testing.T, w *world, o *outcome) {
				_, issued, revoked := w.wire.snapshot()
				orphan := issued[len(issued)-1]
				if len(revoked) != 1 || revoked[0] != orphan {
					t.Errorf("revoked: got %d tokens; want the orphaned rotated one", len(revoked))
				}
				if w.grantWorks(orphan) {
					t.Errorf("the orphaned rotated refresh token still works at Salesforce")
				}
				if c, _ := w.store.Get(context.Background(), team); c.ID != "c2" {
					t.Errorf("stored connection: got %s; want the new one, c2", c.ID)
				}
			},
		},
		{
			name: "with rotation a token rotated for a connection deleted meanwhile is revoked", rotate: true, at: "save",
			meddle: func(w *world, stale salesforce.Token, o *outcome) {
				if err := w.store.Delete(context.Background(), team); err != nil {
					w.t.Fatal(err)
				}
			},
			wantErrA: connection.ErrNotConnected, wantGrants: []string{"ok"},
			check: func(t *testing.T, w *world, o *outcome) {
				_, issued, revoked := w.wire.snapshot()
				if orphan := issued[len(issued)-1]; len(revoked) != 1 || revoked[0] != orphan || w.grantWorks(orphan) {
					t.Errorf("the orphaned rotated refresh token was not revoked")
				}
			},
		},
		{
			name: "a refusal of an unchanged connection is a revocation", rotate: true, at: "read under lease",
			meddle:   func(w *world, stale salesforce.Token, o *outcome) { w.sim.RevokeAllRefreshTokens() },
			wantErrA: connection.ErrNeedsReauth, wantStatus: connection.StatusNeedsReauth, wantGrants: []string{"invalid_grant"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tt.rotate)
			ctx := context.Background()
			stale := salesforce.Token{AccessToken: w.first.AccessToken, InstanceURL: w.first.InstanceURL}
			var o outcome
			h := &hooked{Store: w.store, at: tt.at}
			h.meddle = func() { tt.meddle(w, stale, &o) }
			tokA, errA := w.tokens("A", h).Refresh(ctx, stale)
			if !h.done {
				t.Fatalf("the hook at %q never ran", tt.at)
			}
			if !errors.Is(o.errB, tt.wantErrB) {
				t.Errorf("B's refresh: got %v; want %v", o.errB, tt.wantErrB)
			}
			switch {
			case tt.wantErrA != nil:
				if !errors.Is(errA, tt.wantErrA) {
					t.Errorf("A's refresh: got %v; want %v", errA, tt.wantErrA)
				}
			case errA != nil:
				t.Errorf("A's refresh: got %v; want a token", errA)
			case tt.wantA == "B" && tokA != o.tokB:
				t.Errorf("A's refresh: got a token of its own; want the stored newer one")
			case tt.wantA == "own" && (tokA.AccessToken == stale.AccessToken || tokA == o.tokB):
				t.Errorf("A's refresh: got a stale or B's token; want A's freshly granted one")
			}
			grants, _, _ := w.wire.snapshot()
			if strings.Join(grants, ",") != strings.Join(tt.wantGrants, ",") {
				t.Errorf("refresh grants: got %v; want %v", grants, tt.wantGrants)
			}
			c, err := w.store.Get(ctx, team)
			switch {
			case tt.wantStatus == "":
				if !errors.Is(err, connection.ErrNotConnected) {
					t.Errorf("stored: got %v %v; want no connection", c.Status, err)
				}
			case err != nil || c.Status != tt.wantStatus:
				t.Errorf("stored status: got %v %v; want %s", c.Status, err, tt.wantStatus)
			}
			if tt.check != nil {
				tt.check(t, w, &o)
			}
			if tt.wantStatus == connection.StatusConnected {
				if err := w.queryWorks("late"); err != nil {
					t.Errorf("a data call with the stored grant: got %v; want success", err)
				}
			}
			// The first grant's refresh token is dead when rotation spent it.
			if tt.rotate && w.grantWorks(w.first.RefreshToken) {
				t.Errorf("the first refresh token still works after rotation")
			}
		})
	}
}

func TestRecordHoldKeepsTheLatest(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	if err := s.RecordHold(ctx, team, time.Now()); err != nil {
		t.Fatalf("hold of a team without a connection: got %v; want nil", err)
	}
	if _, err := s.Get(ctx, team); !errors.Is(err, connection.ErrNotConnected) {
		t.Fatalf("after a hold without a connection: got %v; want ErrNotConnected", err)
	}
	if _, err := s.Replace(ctx, conn("c1", "a1", "r1")); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"the first hold is noted", t0, t0},
		{"a later one replaces it", t0.Add(5 * time.Second), t0.Add(5 * time.Second)},
		{"an earlier one, noted late, does not", t0.Add(time.Second), t0.Add(5 * time.Second)},
	}
	for _, st := range steps {
		if err := s.RecordHold(ctx, team, st.at); err != nil {
			t.Fatalf("%s: RecordHold: %v", st.name, err)
		}
		c, err := s.Get(ctx, team)
		if err != nil {
			t.Fatal(err)
		}
		if !c.HeldAt.Equal(st.want) {
			t.Errorf("%s: HeldAt: got %v; want %v", st.name, c.HeldAt, st.want)
		}
	}
	// Replace writes the HeldAt it is given, so a reconnect carries it.
	c := conn("c2", "a2", "r2")
	c.HeldAt = t0.Add(time.Minute)
	if _, err := s.Replace(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, team); err != nil || !got.HeldAt.Equal(c.HeldAt) {
		t.Errorf("after Replace: got %v, %v; want %v", got.HeldAt, err, c.HeldAt)
	}
}

// repeatingDB sends every PutItem twice and answers with the second
// attempt, as the SDK does when the first answer is lost.
type repeatingDB struct{ connectiondb.DynamoDB }

func (r repeatingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return motoserver.SentTwice(ctx, r.DynamoDB.PutItem, in, opts...)
}

// TestReplaceNamesThePreviousConnection: Replace answers with the
// connection it replaced, whose tokens the caller revokes, also when its
// put was sent twice (the repeat finds the new connection stored).
func TestReplaceNamesThePreviousConnection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		repeat bool
	}{
		{"one put", false},
		{"the put sent again after a lost answer", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if tc.repeat {
				s.DB = repeatingDB{s.DB}
			}
			ctx := context.Background()
			prev, err := s.Replace(ctx, conn("conn_1", "access-1", "refresh-1"))
			if err != nil || prev != nil {
				t.Fatalf("first connection: got %v, %v; want no previous one", prev, err)
			}
			prev, err = s.Replace(ctx, conn("conn_2", "access-2", "refresh-2"))
			if err != nil || prev == nil || prev.ID != "conn_1" || prev.RefreshToken != "refresh-1" {
				t.Fatalf("second connection: got %+v, %v; want conn_1 with refresh-1", prev, err)
			}
			got, err := s.Get(ctx, team)
			if err != nil || got.ID != "conn_2" || got.RefreshToken != "refresh-2" {
				t.Errorf("stored: got %+v, %v; want conn_2", got, err)
			}
		})
	}
}

// DeleteItem of repeatingDB sends every delete twice too.
func (r repeatingDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return motoserver.SentTwice(ctx, r.DynamoDB.DeleteItem, in, opts...)
}

// UpdateItem of repeatingDB sends every update twice too.
func (r repeatingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return motoserver.SentTwice(ctx, r.DynamoDB.UpdateItem, in, opts...)
}

// TestARefreshSentTwiceKeepsItsTokens: when the SDK sends a fenced token
// write again after a lost answer, the repeat finds the write applied and
// the write succeeds. Taking the repeat's refusal for a lost race made a
// refresh with rotation revoke the refresh token it had just stored, and
// every later refresh of the team was refused.
func TestARefreshSentTwiceKeepsItsTokens(t *testing.T) {
	t.Parallel()
	for _, rotate := range []bool{false, true} {
		t.Run(fmt.Sprintf("rotate=%v", rotate), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, rotate)
			twice := &connectiondb.Store{DB: repeatingDB{w.store.DB}, Table: w.store.Table, Sealer: w.store.Sealer}
			w.sim.ExpireAccessTokens()
			_, err := salesforce.Query[map[string]any](context.Background(), &salesforce.Client{Session: w.tokens("A", twice)}, "SELECT Id FROM Lead")
			if err != nil {
				t.Fatalf("query: got %v; want success", err)
			}
			c, err := w.store.Get(context.Background(), team)
			if err != nil || c.Status != connection.StatusConnected || c.Version != 2 {
				t.Fatalf("stored: got %s at version %d, %v; want connected at version 2", c.Status, c.Version, err)
			}
			if grants, _, revoked := w.wire.snapshot(); len(grants) != 1 || len(revoked) != 0 {
				t.Errorf("OAuth: got grants %v and %d revocations; want one grant and none", grants, len(revoked))
			}
			if err := w.queryWorks("B"); err != nil {
				t.Errorf("the stored grant after the refresh: got %v; want it to work", err)
			}
		})
	}
	t.Run("a status change", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		s.DB = repeatingDB{s.DB}
		if _, err := s.Replace(context.Background(), conn("c1", "a1", "r1")); err != nil {
			t.Fatal(err)
		}
		if err := s.SetStatus(context.Background(), team, "c1", 1, connection.StatusNeedsReauth, connection.Problem{}); err != nil {
			t.Errorf("set status sent twice: got %v; want success", err)
		}
	})
}

// TestUsageSentTwiceCountsOnce: the service's daily call count takes each
// write once, also when the SDK sends it again after a lost answer, whether
// the write starts the day's count or adds to it, and whether its guess of
// which one was right.
func TestUsageSentTwiceCountsOnce(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		writes []bool // newDay of each write of 3 calls
		want   int
	}{
		{"a day started", []bool{true}, 3},
		{"a day started, then added to", []bool{true, false}, 6},
		{"a day started by a write that guessed wrong", []bool{false}, 3},
		{"an add that guessed wrong", []bool{true, true}, 6},
	}
	for _, tt := range tests {
		for _, repeat := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, repeat=%v", tt.name, repeat), func(t *testing.T) {
				t.Parallel()
				s := newStore(t)
				if _, err := s.Replace(context.Background(), conn("c1", "a1", "r1")); err != nil {
					t.Fatal(err)
				}
				if repeat {
					s.DB = repeatingDB{s.DB}
				}
				u := connection.Usage{Used: 10, Limit: 1000, At: at, ServiceDay: connection.Day(at)}
				for i, newDay := range tt.writes {
					if err := s.RecordUsage(context.Background(), team, u, 3, newDay); err != nil {
						t.Fatalf("write %d: %v", i, err)
					}
				}
				c, err := s.Get(context.Background(), team)
				if err != nil || c.Usage == nil || c.Usage.ServiceCalls != tt.want {
					t.Fatalf("count: got %+v, %v; want %d calls", c.Usage, err, tt.want)
				}
			})
		}
	}
}

// updatingTwice sends every UpdateItem twice and answers with the second
// attempt, as the SDK does when the first answer is lost.
type updatingTwice struct{ connectiondb.DynamoDB }

func (u updatingTwice) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return motoserver.SentTwice(ctx, u.DynamoDB.UpdateItem, in, opts...)
}

// TestConsentIsSealedTakenOnceAndNoted: a consent keeps its tokens sealed
// (to its team and state) and only the ticket's hash; it is taken once, also
// when the taking request is sent twice; the team's note of it lists it
// until it is dropped.
func TestConsentIsSealedTakenOnceAndNoted(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	deadline := time.Date(2026, 11, 26, 10, 10, 0, 0, time.UTC)
	const state = "state-0123456789"
	if err := s.SaveState(ctx, connection.PendingAuth{State: state, TeamID: team, Admin: "admin_1", Verifier: "verifier-secret",
		Environment: connection.EnvProduction, LoginURL: connection.ProductionLoginURL, ExpiresAt: deadline}); err != nil {
		t.Fatal(err)
	}
	c := conn("", "consent-access", "consent-refresh")
	c.ConnectedAt, c.ConnectedBy, c.Status, c.Version = time.Time{}, "", "", 0
	saveConsent := func(s *connectiondb.Store) error {
		return s.SaveConsent(ctx, connection.Consent{State: state, Admin: "admin_1", TicketHash: connection.TicketHash("the-ticket"),
			ExpiresAt: deadline, Connection: c})
	}
	if err := saveConsent(s); err == nil {
		t.Fatalf("consent on a state the callback has not taken: got nil; want an error")
	}
	if _, err := s.TakeState(ctx, state); err != nil {
		t.Fatal(err)
	}
	if err := saveConsent(&connectiondb.Store{DB: updatingTwice{s.DB}, Table: s.Table, Sealer: s.Sealer}); err != nil {
		t.Fatalf("SaveConsent sent twice: %v", err)
	}
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: &s.Table})
	if err != nil {
		t.Fatal(err)
	}
	dump := fmt.Sprint(out.Items)
	for _, secret := range []string{"consent-access", "consent-refresh", "the-ticket", "verifier-secret"} {
		if strings.Contains(dump, secret) {
			t.Errorf("%q appears in a stored item", secret)
		}
	}
	refs, err := s.Consents(ctx, team)
	if err != nil || len(refs) != 1 || refs[0].State != state || !refs[0].ExpiresAt.Equal(deadline) {
		t.Fatalf("Consents: got %+v, %v; want the one consent with its deadline", refs, err)
	}
	twice := &connectiondb.Store{DB: updatingTwice{s.DB}, Table: s.Table, Sealer: s.Sealer}
	got, err := twice.TakeConsent(ctx, state)
	if err != nil {
		t.Fatalf("TakeConsent sent twice: %v", err)
	}
	if got.Admin != "admin_1" || got.TicketHash != connection.TicketHash("the-ticket") || !got.ExpiresAt.Equal(deadline) || got.Connection != c {
		t.Errorf("TakeConsent: got %+v; want what was saved, %+v", got, c)
	}
	if _, err := s.TakeConsent(ctx, state); !errors.Is(err, connection.ErrNoConsent) {
		t.Errorf("second take: got %v; want ErrNoConsent", err)
	}
	if _, err := s.TakeConsent(ctx, "never-issued"); !errors.Is(err, connection.ErrNoConsent) {
		t.Errorf("take of an unknown state: got %v; want ErrNoConsent", err)
	}
	if refs, err := s.ExpiredConsents(ctx, deadline); err != nil || len(refs) != 1 || refs[0].TeamID != team || refs[0].State != state || !refs[0].ExpiresAt.Equal(deadline) {
		t.Errorf("ExpiredConsents at the deadline: got %+v, %v; want the one consent", refs, err)
	}
	if err := s.DropConsent(ctx, connection.ConsentRef{TeamID: team, State: state, ExpiresAt: deadline}); err != nil {
		t.Fatal(err)
	}
	if refs, err := s.Consents(ctx, team); err != nil || len(refs) != 0 {
		t.Errorf("Consents after the drop: got %+v, %v; want none", refs, err)
	}
	if refs, err := s.ExpiredConsents(ctx, deadline); err != nil || len(refs) != 0 {
		t.Errorf("ExpiredConsents after the drop: got %+v, %v; want none", refs, err)
	}
}

// TestExpiredConsentsAcrossTeams: the consents whose deadline passed are
// found for every team without a scan, across an hour's boundary, back to
// SweepLookback; those still running are not.
func TestExpiredConsentsAcrossTeams(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 10, 10, 0, 0, time.UTC)
	consents := []struct {
		team     string
		deadline time.Time
		want     bool
	}{
		{"team_a", now.Add(-15 * time.Minute), true}, // 09:55, the hour before
		{"team_b", now.Add(-5 * time.Minute), true},
		{"team_c", now, true},
		{"team_d", now.Add(time.Millisecond), false},
		{"team_e", now.Add(10 * time.Minute), false},
		{"team_f", now.Add(-connection.SweepLookback), true},
	}
	var want []connection.ConsentRef
	for i, c := range consents {
		state := fmt.Sprintf("state-%d-0123456789", i)
		if err := s.SaveState(ctx, connection.PendingAuth{State: state, TeamID: c.team, Verifier: "v",
			Environment: connection.EnvProduction, LoginURL: connection.ProductionLoginURL, ExpiresAt: c.deadline}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TakeState(ctx, state); err != nil {
			t.Fatal(err)
		}
		conn := conn("", "access", "refresh")
		conn.TeamID = c.team
		if err := s.SaveConsent(ctx, connection.Consent{State: state, TicketHash: connection.TicketHash("t"), ExpiresAt: c.deadline, Connection: conn}); err != nil {
			t.Fatal(err)
		}
		if c.want {
			want = append(want, connection.ConsentRef{TeamID: c.team, State: state, ExpiresAt: c.deadline})
		}
	}
	got, err := s.ExpiredConsents(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	key := func(a, b connection.ConsentRef) int { return strings.Compare(a.State, b.State) }
	slices.SortFunc(got, key)
	slices.SortFunc(want, key)
	if !slices.EqualFunc(got, want, func(a, b connection.ConsentRef) bool {
		return a.TeamID == b.TeamID && a.State == b.State && a.ExpiresAt.Equal(b.ExpiresAt)
	}) {
		t.Errorf("ExpiredConsents(%v): got %+v; want %+v", now, got, want)
	}
}

func TestReplaceKeepsTheOrgName(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for _, name := range []string{"Acme Corp", ""} {
		c := conn("c-"+name, "a", "r")
		c.OrgName = name
		if _, err := s.Replace(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, team); err != nil || got.OrgName != name {
			t.Errorf("Get after Replace with org name %q: got %q, %v; want %q", name, got.OrgName, err, name)
		}
	}
}

// TestCallsOfPastDaysAreKept: the write that starts a day keeps the day it
// replaces, with its calls, at TEAM#<t>/CALLS#<day> for health.Keep (35
// days) after that day began, whether it guessed the new day or not, and
// also when every write is sent again after a lost answer (the start's
// resend is refused by its own mark, which the kept day notes);
// CallsByDay reads the kept days of a range, never the connection's
// current one nor another team's.
func TestCallsOfPastDaysAreKept(t *testing.T) {
	t.Parallel()
	for _, repeat := range []bool{false, true} {
		t.Run(fmt.Sprintf("writes sent twice=%v", repeat), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newStore(t)
			if _, err := s.Replace(ctx, conn("c1", "a1", "r1")); err != nil {
				t.Fatal(err)
			}
			if repeat {
				s.DB = repeatingDB{s.DB}
			}
			day := func(d int) time.Time { return time.Date(2026, 12, d, 12, 0, 0, 0, time.UTC) }
			writes := []struct {
				at     time.Time
				calls  int
				newDay bool
			}{
				{day(1), 5, true}, {day(1), 3, false}, // day 1: 8
				{day(2), 4, true}, {day(2), 2, false}, // day 2: 6, started by a right guess
				{day(4), 7, false}, // day 4 started by a wrong guess; day 3 had no call
			}
			for i, w := range writes {
				u := connection.Usage{Used: 10, Limit: 1000, At: w.at, ServiceDay: connection.Day(w.at)}
				if err := s.RecordUsage(ctx, team, u, w.calls, w.newDay); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
			}
			tests := []struct {
				name, team, from, to string
				want                 map[string]int
			}{
				{"every day", team, "2026-11-30", "2026-12-31", map[string]int{"2026-12-01": 8, "2026-12-02": 6}},
				{"one day", team, "2026-12-02", "2026-12-02", map[string]int{"2026-12-02": 6}},
				{"the current day is the connection's", team, "2026-12-03", "2026-12-04", map[string]int{}},
				{"another team", "team_b", "2026-11-30", "2026-12-31", map[string]int{}},
			}
			for _, tt := range tests {
				got, err := s.CallsByDay(ctx, tt.team, tt.from, tt.to)
				if err != nil || !maps.Equal(got, tt.want) {
					t.Errorf("%s: got %v, %v; want %v", tt.name, got, err, tt.want)
				}
			}
			c, err := s.Get(ctx, team)
			if err != nil || c.Usage == nil || c.Usage.ServiceDay != "2026-12-04" || c.Usage.ServiceCalls != 7 {
				t.Errorf("connection's day: got %+v, %v; want 7 calls on 2026-12-04", c.Usage, err)
			}
			out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: map[string]ddbtypes.AttributeValue{
				resources.PartitionKey: &ddbtypes.AttributeValueMemberS{Value: "TEAM#" + team},
				resources.SortKey:      &ddbtypes.AttributeValueMemberS{Value: "CALLS#2026-12-01"},
			}})
			if err != nil || out.Item == nil {
				t.Fatalf("got %v, %v; want the item TEAM#%s / CALLS#2026-12-01", out, err, team)
			}
			var it struct {
				Calls     int      `dynamodbav:"calls"`
				Added     []string `dynamodbav:"added,stringset"`
				ExpiresAt int64    `dynamodbav:"expires_at"`
			}
			if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
				t.Fatal(err)
			}
			if want := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Add(health.Keep).Unix(); it.Calls != 8 || len(it.Added) != 1 || it.ExpiresAt != want || len(out.Item) != 5 {
				t.Errorf("got %+v (%d attributes); want pk, sk, calls 8, the mark of the one start that kept them and expires_at %d", it, len(out.Item), want)
			}
		})
	}
}
