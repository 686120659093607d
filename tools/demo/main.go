// Command demo shows the service's main job on a laptop: it starts the whole
// local stack (moto, the Salesforce simulator, the real functions behind the
// local runner), connects a demo team through the OAuth flow, posts a scenario
// of events to SQS as the sequencer would, waits for the outcomes and prints
// them with the Salesforce records they led to, and the admin console's
// address with a local admin token.
//
//	go run ./tools/demo        (or: make demo)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/jwtlocal"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
	"github.com/sfsync/sfsync/tools/sequencer"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

const team = "team_demo"

func main() {
	keep := flag.Bool("keep", false, "keep the stack running after the scenario, until Ctrl-C, to look at the simulator's page")
	verbose := flag.Bool("v", false, "show the functions' logs")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *keep, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// step is one line of the scenario: the event, what it shows, and the
// outcome it must get.
type step struct {
	ev         event.Event
	shows      string
	wantStatus event.Status
	// wantAccount, when set, is the Account decision the step shows (its
	// record owned by the rep, too).
	wantAccount string
}

func run(ctx context.Context, keep, verbose bool) error {
	state, err := os.MkdirTemp("", "sfsync-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)

	fmt.Println("Starting the local stack (moto, Salesforce simulator, functions)...")
	moto, err := motoserver.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer moto.Stop()
	// The functions write through the atomic proxy: moto's conditional
	// writes and transactions are not atomic (see motoserver.AtomicProxy).
	proxy, err := motoserver.StartAtomicProxy(moto.Endpoint)
	if err != nil {
		return err
	}
	defer proxy.Close()
	apiPort, err := motoserver.FreePort("127.0.0.1")
	if err != nil {
		return err
	}
	var st runner.Stack
	var sim *org.Org
	out := io.Discard
	if verbose {
		out = os.Stderr
	}
	opts := runner.StackOptions{
		Endpoint: proxy.URL, Prefix: "sfsync-demo", StateDir: state, RepoDir: repoRoot(),
		APIAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort)), Output: out,
		Logger: slog.New(slog.DiscardHandler), PollWait: time.Second,
		StartSalesforce: func(context.Context) (string, func(), error) {
			sim = org.New(org.Config{ClientID: "sfsync-local", ClientSecret: "sfsync-local-secret",
				RedirectURIs: []string{st.OAuthRedirectURL()}, AutoApprove: true})
			u, err := sim.Start()
			if err != nil {
				return "", nil, err
			}
			return u, func() { _ = sim.Close() }, nil
		},
	}
	if err := st.Start(ctx, opts); err != nil {
		return fmt.Errorf("start the stack: %w", err)
	}
	defer st.Stop()

	// The org already holds Grace, as a Contact, and a validation rule.
	if _, err := sim.Seed("Contact", map[string]any{"FirstName": "Grace", "LastName": "Hopper", "Email": "grace.hopper@navy.example"}); err != nil {
		return err
	}
	sim.AddValidationRule(org.ValidationRule{Object: "Lead", Field: "Company", Forbid: "Globex",
		Message: "Leads from a competitor are not allowed"})
	// Mary, the rep who works the sequences, is a Salesforce user; NASA is
	// an Account, its website NASA's domain.
	if _, err := sim.Seed("User", map[string]any{"FirstName": "Mary", "LastName": "Jackson", "Email": "mary.jackson@sales.example",
		"Username": "mary.jackson@sales.example.org", "IsActive": true}); err != nil {
		return err
	}
	if _, err := sim.Seed("Account", map[string]any{"Name": "NASA", "Website": "https://www.nasa.example/about"}); err != nil {
		return err
	}

	keys, err := jwtlocal.Load(state)
	if err != nil {
		return err
	}
	cfg, err := motoserver.AWSConfig(ctx, moto.Endpoint)
	if err != nil {
		return err
	}
	seqr := &sequencer.Client{SQS: sqs.NewFromConfig(cfg), APIURL: st.APIURL, Keys: keys,
		ContactQueue:  st.Resources.Queues["contact-events"].URL,
		ActivityQueue: st.Resources.Queues["activity-events"].URL,
		ResultsQueue:  st.Resources.Queues["results"].URL}

	fmt.Println("Connecting", team, "to Salesforce through the OAuth flow...")
	if err := seqr.Connect(ctx, team, st.SalesforceURL); err != nil {
		return err
	}
	fmt.Println("Settings: sequence seq_partners has Disable Sync on; seq_webinar syncs on reply, as Contacts.")
	if err := seqr.PutSequence(ctx, team, "seq_partners", map[string]any{"sync_mode": "inherit", "sync_as": "inherit", "sync_disabled": true}); err != nil {
		return err
	}
	if err := seqr.PutSequence(ctx, team, "seq_webinar", map[string]any{"sync_mode": "on_reply", "sync_as": "contact", "sync_disabled": false}); err != nil {
		return err
	}

	now := time.Now().UTC()
	steps := []step{
		{contactEvent("evt_demo_01", event.ContactCreated, "", "ct_grace", "Grace.Hopper@Navy.example", "Grace", "Hopper", "US Navy", now), "dedup check: already in Salesforce (other letter case)", event.StatusExistsInSalesforce, ""},
		{contactEvent("evt_demo_02", event.ContactAdded, "seq_q4", "ct_ada", "ada@analytical.example", "Ada", "Lovelace", "Analytical Engines", now), "new contact: created as a Lead, owned by its rep Mary", event.StatusCreated, ""},
		{contactEvent("evt_demo_03", event.ContactAdded, "seq_q4", "ct_grace", "GRACE.HOPPER@navy.example", "Grace", "Hopper", "US Navy", now), "same email in another case: linked, nothing created", event.StatusLinked, ""},
		{contactEvent("evt_demo_04", event.ContactAdded, "seq_partners", "ct_alan", "alan@turing.example", "Alan", "Turing", "Bletchley", now), "sequence with Disable Sync: skipped", event.StatusSkipped, ""},
		{contactEvent("evt_demo_05", event.ContactAdded, "seq_webinar", "ct_kath", "katherine@nasa.example", "Katherine", "Johnson", "NASA", now), "on_reply sequence: waits for a reply", event.StatusPending, ""},
		{contactEvent("evt_demo_06", event.ContactAdded, "seq_q4", "ct_wile", "wile@globex.example", "Wile", "Coyote", "Globex", now), "Salesforce's validation rule rejects it: failed", event.StatusFailed, ""},
	}
	reply := step{contactEvent("evt_demo_07", event.ContactReplied, "seq_webinar", "ct_kath", "katherine@nasa.example", "Katherine", "Johnson", "NASA", now.Add(time.Minute)), "the reply syncs it, as a Contact owned by Mary, under NASA", event.StatusCreated, ""}
	reply.wantAccount = event.AccountDomain

	fmt.Printf("Sending %d events to the contact queue...\n", len(steps))
	var evs []event.Event
	var ids []string
	for _, s := range steps {
		evs = append(evs, s.ev)
		ids = append(ids, s.ev.ID)
	}
	if err := seqr.Send(ctx, evs...); err != nil {
		return err
	}
	got, err := seqr.Await(ctx, ids, nil, 90*time.Second)
	if err != nil {
		return err
	}
	fmt.Println("Katherine replies...")
	if err := seqr.Send(ctx, reply.ev); err != nil {
		return err
	}
	r, err := seqr.Await(ctx, []string{reply.ev.ID}, sequencer.Final, 60*time.Second)
	if err != nil {
		return err
	}
	got[reply.ev.ID] = r[reply.ev.ID]
	steps = append(steps, reply)

	emails := []step{
		{emailEvent("evt_demo_08", event.EmailSent, "seq_q4", "ct_ada", "ada@analytical.example", "msg_1", now.Add(2*time.Minute)), "email sent: a completed Task on Ada's Lead", event.StatusCreated, ""},
		{emailEvent("evt_demo_09", event.EmailOpened, "seq_q4", "ct_ada", "ada@analytical.example", "msg_1", now.Add(3*time.Minute)), "opens are off by default: skipped", event.StatusSkipped, ""},
		{emailEvent("evt_demo_10", event.EmailSent, "seq_partners", "ct_alan", "alan@turing.example", "msg_2", now.Add(2*time.Minute)), "contact that never syncs: skipped", event.StatusSkipped, ""},
	}
	fmt.Printf("Sending %d email events to the activity queue...\n", len(emails))
	ids = ids[:0]
	evs = evs[:0]
	for _, s := range emails {
		evs, ids = append(evs, s.ev), append(ids, s.ev.ID)
	}
	if err := seqr.Send(ctx, evs...); err != nil {
		return err
	}
	r, err = seqr.Await(ctx, ids, sequencer.Final, 90*time.Second)
	if err != nil {
		return err
	}
	for id, o := range r {
		got[id] = o
	}
	steps = append(steps, emails...)

	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tTYPE\tEMAIL\tOUTCOME\tREASON / ERROR\tSALESFORCE RECORD\tOWNER\tACCOUNT\tWHAT IT SHOWS")
	var mismatches []string
	for _, s := range steps {
		o := got[s.ev.ID]
		detail := string(o.Reason)
		if o.Error != nil {
			detail = o.Error.Code + ": " + o.Error.Message
		}
		rec, owner, account := "-", "-", "-"
		if sf := o.Salesforce; sf != nil {
			rec = string(sf.Object) + " " + sf.ID
			if sf.Match != nil {
				owner = strings.TrimSpace(sf.Match.Owner + " " + sf.OwnerID)
				account = or(strings.TrimSpace(sf.Match.Account+" "+sf.AccountID), "-")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ev.ID, s.ev.Type, s.ev.Email(), o.Status, truncate(detail, 60), rec, owner, account, s.shows)
		if o.Status != s.wantStatus {
			mismatches = append(mismatches, fmt.Sprintf("%s: got %s; want %s", s.ev.ID, o.Status, s.wantStatus))
		}
		if s.wantAccount != "" && (o.Salesforce == nil || o.Salesforce.Match == nil || o.Salesforce.Match.Account != s.wantAccount ||
			o.Salesforce.Match.Owner != event.OwnerRep) {
			mismatches = append(mismatches, fmt.Sprintf("%s: got %+v; want owned by the rep, its Account by %s", s.ev.ID, o.Salesforce, s.wantAccount))
		}
	}
	tw.Flush()
	fmt.Printf("\nSalesforce now holds %d Leads, %d Contacts and %d Tasks (API calls counted: %d).\n",
		len(sim.Records("Lead")), len(sim.Records("Contact")), len(sim.Records("Task")), sim.Stats().Total)
	fmt.Printf("The simulated org's records page: %s/\n", st.SalesforceURL)
	tok, err := keys.Mint(team, "admin", 12*time.Hour)
	if err != nil {
		return err
	}
	fmt.Printf("The admin console, as an admin of %s (open it while the stack runs: go run ./tools/demo -keep):\n  %s\n", team, st.ConsoleURLWith(tok))
	if len(mismatches) > 0 {
		return errors.New("unexpected outcomes:\n  " + strings.Join(mismatches, "\n  "))
	}
	if keep {
		fmt.Println("The stack keeps running; Ctrl-C stops it.")
		<-ctx.Done()
	}
	return nil
}

// rep is the sequencer's user who works the demo's sequences.
var rep = &event.User{ID: "usr_mary", Email: "Mary.Jackson@sales.example", Name: "Mary Jackson"}

func contactEvent(id string, t event.Type, seq, contactID, email, first, last, company string, at time.Time) event.Event {
	ev := event.Event{ID: id, Type: t, Version: event.Version, OccurredAt: at, TeamID: team,
		Data: event.ContactData{Contact: event.Contact{ID: contactID, Email: email, FirstName: first, LastName: last, Company: company}}}
	if seq != "" {
		d := ev.Data.(event.ContactData)
		d.Sequence, d.User = &event.Sequence{ID: seq, Name: seq}, rep
		ev.Data = d
	}
	return ev
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func emailEvent(id string, t event.Type, seq, contactID, email, msgID string, at time.Time) event.Event {
	return event.Event{ID: id, Type: t, Version: event.Version, OccurredAt: at, TeamID: team,
		Data: event.EmailData{Sequence: event.Sequence{ID: seq, Name: seq}, Contact: event.ContactRef{ID: contactID, Email: email}, User: rep,
			Message: event.Message{ID: msgID, Subject: "Difference engines, revisited", BodyText: "Hello! A short note about our engines.", Step: 1, SentAt: at}}}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// repoRoot finds the module root (where functions/ lives) from the working directory.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "functions")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return d
			}
		}
	}
	return dir
}
