package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/sfsync/sfsync/shared/event"
)

// The attribution burst: n contacts added by attrReps reps for attrCompanies
// companies, synced as Contacts under their Accounts (half the companies
// have one already; the fallback creates the others) and owned by their
// reps (every tenth rep's user inactive: those go to the connected user).
const (
	attrTeam      = "team_bench_attr"
	attrReps      = 200
	attrCompanies = 300
)

func attrRepEmail(r int) string            { return fmt.Sprintf("Rep%03d@Sales.Bench.Example", r) }
func attrDomain(c int) string              { return fmt.Sprintf("company%03d.bench.example", c) }
func attrContact(i int) (rep, company int) { return i % attrReps, (i * 7) % attrCompanies }

// attrSeeds are the reps' users and the Accounts of the even companies.
func attrSeeds() (users, accounts []map[string]any) {
	for r := range attrReps {
		users = append(users, map[string]any{"LastName": "Rep " + strconv.Itoa(r), "Email": attrRepEmail(r),
			"Username": fmt.Sprintf("rep%03d@sales.bench.example.org", r), "IsActive": r%10 != 0})
	}
	for c := 0; c < attrCompanies; c += 2 {
		accounts = append(accounts, map[string]any{"Name": fmt.Sprintf("Company %03d", c), "Website": "https://www." + attrDomain(c) + "/about"})
	}
	return users, accounts
}

func attrAdded(i int, at time.Time) event.Event {
	rep, company := attrContact(i)
	return event.Event{ID: fmt.Sprintf("evt_attr_add_%d", i), Type: event.ContactAdded, Version: event.Version, OccurredAt: at, TeamID: attrTeam,
		Data: event.ContactData{Sequence: &event.Sequence{ID: benchSeq, Name: "Bench"},
			User: &event.User{ID: "usr_" + strconv.Itoa(rep), Email: attrRepEmail(rep), Name: "Rep " + strconv.Itoa(rep)},
			Contact: event.Contact{ID: "ct_attr_" + strconv.Itoa(i), Email: fmt.Sprintf("person%d@%s", i, attrDomain(company)),
				FirstName: "Bench", LastName: "Person " + strconv.Itoa(i), Company: fmt.Sprintf("Company %03d", company)}}}
}

// attributionBurst runs the attribution burst on a team of its own in the
// same org as the contact burst, and checks every contact was created
// under an Account, one new Account per company that had none.
func (b *bench) attributionBurst(ctx context.Context) error {
	users, accounts := attrSeeds()
	progress("attribution: seeding %d users and %d Accounts, connecting %s", len(users), len(accounts), attrTeam)
	if _, err := b.sim.Seed("User", users...); err != nil {
		return err
	}
	if _, err := b.sim.Seed("Account", accounts...); err != nil {
		return err
	}
	if err := b.seqr.Connect(ctx, attrTeam, b.sim.URL()); err != nil {
		return err
	}
	if err := b.seqr.PutSettings(ctx, attrTeam, map[string]any{"sync_as": "contact", "sync_mode": "on_add", "deduplication": true, "activity_tracking": true}); err != nil {
		return err
	}
	before := len(b.sim.Records("Account"))
	at := time.Now().UTC().Add(time.Second) // after the settings took effect
	evs := make([]event.Event, b.cfg.n)
	for i := range evs {
		evs[i] = attrAdded(i, at)
	}
	r, err := b.drive(ctx, "attribution", evs)
	if err != nil {
		return err
	}
	if r.Outcomes[string(event.StatusCreated)] != b.cfg.n {
		return fmt.Errorf("outcomes %v; every contact should be created", r.Outcomes)
	}
	if made, want := len(b.sim.Records("Account"))-before, attrCompanies/2; made != want {
		return fmt.Errorf("%d Accounts created; want %d, one per company without one", made, want)
	}
	b.results.Attribution = r
	return nil
}
