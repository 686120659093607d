package contactsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/ledger"
)

// claim is the claim step: it takes the right to create a record for each
// email Salesforce does not have, so no other worker creates it meanwhile,
// and returns the items the part may go on with: those of emails found
// (linking needs no claim: saving the link is refused if another worker
// holds the email's claim or saved another record for it) and those of
// emails it claimed. The items of an email another worker holds come back
// later. It also returns the emails it may hold, given up by the caller
// when a later step fails; when the call itself fails, that is every email
// asked for (giving up a claim not held is a no-op).
func (p part) claim(ctx context.Context, pending []item, found map[string]ledger.Match) ([]item, []string, tally, error) {
	var order []string
	wanted := map[string]bool{}
	for _, it := range pending {
		e := ledger.NormalizeEmail(it.m.Email)
		if _, ok := found[e]; !ok && !wanted[e] {
			wanted[e] = true
			order = append(order, e)
		}
	}
	if len(order) == 0 {
		return pending, nil, tally{}, nil
	}
	errs, err := p.e.Ledger.ClaimAll(ctx, p.team, order, p.e.Owner, p.claimUntil(ctx))
	if err != nil {
		return nil, order, tally{}, fmt.Errorf("claim: %w", err)
	}
	var claimed []string
	busy := map[string]error{}
	for i, email := range order {
		if errs[i] != nil {
			busy[email] = errs[i]
			continue
		}
		claimed = append(claimed, email)
	}
	var mine []item
	var t tally
	for _, it := range pending {
		if cerr, ok := busy[ledger.NormalizeEmail(it.m.Email)]; ok {
			if !errors.Is(cerr, ledger.ErrClaimed) {
				cerr = fmt.Errorf("claim: %w", cerr)
			}
			t.retry(it.d, fmt.Errorf("%w: %w", delivery.ErrRetry, cerr))
			continue
		}
		mine = append(mine, it)
	}
	return mine, claimed, t, nil
}

// claimUntil is how long a claim lasts: it outlives this invocation, its
// deadline (a write may run past the share's, see WriteContext) plus a
// margin, so a live worker never loses its claim to another.
func (p part) claimUntil(ctx context.Context) time.Time {
	until := p.e.now().Add(p.e.claimTTL())
	if dl, ok := delivery.WriteContext(ctx).Deadline(); ok && dl.Add(time.Minute).After(until) {
		until = dl.Add(time.Minute)
	}
	return until
}

// unclaim gives up the part's claim on email; a failure is logged (the
// claim then lapses at its deadline).
func (p part) unclaim(ctx context.Context, email string) {
	if err := p.e.Ledger.Unclaim(ctx, p.team, email, p.e.Owner); err != nil {
		p.e.log().Warn("unclaim", "team_id", p.team, "error", err.Error())
	}
}
