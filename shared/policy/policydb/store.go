// Package policydb stores the versioned sync policy (team settings and
// sequence overrides) in the policies table, and counts sequence memberships
// in the ledger table (keyed by ledgerdb, which owns that table's keys).
//
// Layout in the policies table (string keys "pk"/"sk"), one versioned
// document each (versiondb: a HEAD plus one item per version, with
// effective_ns, effective_at, author and doc):
//
//	pk TEAM#<team>            sk SETTINGS#v0000000001 ...  one item per saved version
//	pk TEAM#<team>            sk SETTINGS#HEAD             the current version, for reads and concurrency
//	pk TEAM#<team>#SEQ#<seq>  sk OVERRIDE#v0000000001 ...
//	pk TEAM#<team>#SEQ#<seq>  sk OVERRIDE#HEAD
//
// A save writes the new version and the HEAD in one TransactWriteItems: the
// version only if it does not exist yet, the HEAD only if it still holds the
// version the writer read. Of two writers starting from the same version,
// exactly one succeeds; the other gets ErrVersionConflict and writes nothing.
// docs/tables.md lists every item of every table.
//
// Versions are never rewritten or deleted, so the history is the audit trail
// and ResolveAt can judge a delayed event by the rules of its time. Effective
// times increase strictly with the version number (a new version takes
// effect no earlier than a microsecond after the previous one, whatever the
// clock says), so version order and time order agree.
package policydb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/singleflight"

	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/platform/versiondb"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/resources"
)

// ErrVersionConflict is returned by a save whose expected version is no
// longer the current one (someone else saved first). Nothing was written.
var ErrVersionConflict = errors.New("version conflict")

// AnyVersion as the expected version saves on top of whatever is current.
const AnyVersion = versiondb.AnyVersion

// MaxHistoryPage bounds the number of versions one history read returns.
const MaxHistoryPage = 100

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store reads and writes the policy. Its zero value is not usable; use New.
type Store struct {
	db       API
	policies string
	ledger   string
	// Now is the server clock that stamps new versions; tests may replace it.
	Now func() time.Time

	heads headMemo // each document's current version, as last read
}

// New returns a store on the named policies and ledger tables.
func New(db API, policiesTable, ledgerTable string) *Store {
	return &Store{db: db, policies: policiesTable, ledger: ledgerTable, Now: time.Now}
}

// layout names the attributes of a policy version: effective_ns,
// effective_at and doc.
var layout = versiondb.Layout{Stamp: "effective", Body: "doc"}

// versions is the versioned store of documents of type T.
func versions[T any](s *Store) versiondb.Store[T] {
	return versiondb.Store[T]{DB: s.db, Table: s.policies, Layout: layout, Now: s.Now, Conflict: ErrVersionConflict}
}

// version is a stored version as the policy domain reads it.
func version[T any](v versiondb.Version[T]) policy.Version[T] {
	return policy.Version[T]{Number: v.Number, EffectiveAt: v.At, Author: v.Author, Document: v.Body}
}

// document says where one versioned document lives.
type document[T any] struct {
	versiondb.Doc
	validate func(T) error
	zero     func() T
}

func teamDoc(team string) (document[policy.TeamSettings], error) {
	if err := policy.ValidateID("team_id", team); err != nil {
		return document[policy.TeamSettings]{}, err
	}
	return document[policy.TeamSettings]{
		Doc:      versiondb.Doc{PK: "TEAM#" + team, Prefix: "SETTINGS#"},
		validate: policy.TeamSettings.Validate, zero: policy.DefaultTeamSettings,
	}, nil
}

func sequenceDoc(team, seq string) (document[policy.SequenceOverride], error) {
	if err := policy.ValidateID("team_id", team); err != nil {
		return document[policy.SequenceOverride]{}, err
	}
	if err := policy.ValidateID("sequence_id", seq); err != nil {
		return document[policy.SequenceOverride]{}, err
	}
	return document[policy.SequenceOverride]{
		Doc:      versiondb.Doc{PK: SequenceKey(team, seq), Prefix: "OVERRIDE#"},
		validate: policy.SequenceOverride.Validate, zero: policy.DefaultSequenceOverride,
	}, nil
}

// SequenceKey is the partition key of a sequence's override history in the
// policies table. (The sequence's memberships in the ledger table are keyed
// by ledgerdb.MembershipPK, which spells the same key.)
func SequenceKey(team, seq string) string { return "TEAM#" + team + "#SEQ#" + seq }

// current reads the HEAD of d; a document never saved is version 0 holding
// the defaults, with a zero effective time.
func current[T any](ctx context.Context, s *Store, d document[T]) (policy.Version[T], error) {
	v, ok, err := versions[T](s).Current(ctx, d.Doc)
	if err != nil {
		return policy.Version[T]{}, err
	}
	if !ok {
		return policy.Version[T]{Document: d.zero()}, nil
	}
	return version(v), nil
}

// save writes doc as the version after expected (AnyVersion: after the
// current one, retrying a few times if others save concurrently).
func save[T any](ctx context.Context, s *Store, d document[T], author string, doc T, expected int) (policy.Version[T], error) {
	if err := d.validate(doc); err != nil {
		return policy.Version[T]{}, err
	}
	v, err := versions[T](s).Save(ctx, d.Doc, author, doc, expected)
	if err != nil {
		return policy.Version[T]{}, err
	}
	return version(v), nil
}

// history reads up to limit versions, newest first, older than before (0: from
// the newest). next is the before of the following page, 0 when none.
func history[T any](ctx context.Context, s *Store, d document[T], limit, before int) ([]policy.Version[T], int, error) {
	if limit < 1 || limit > MaxHistoryPage {
		return nil, 0, &policy.ValidationError{Field: "limit", Problem: fmt.Sprintf("must be between 1 and %d", MaxHistoryPage)}
	}
	if before < 0 {
		return nil, 0, &policy.ValidationError{Field: "before", Problem: "must be a version number"}
	}
	vs, next, err := versions[T](s).History(ctx, d.Doc, limit, before)
	if err != nil {
		return nil, 0, err
	}
	out := make([]policy.Version[T], len(vs))
	for i, v := range vs {
		out[i] = version(v)
	}
	return out, next, nil
}

// asOf reads the newest version that took effect at or before at, if any.
func asOf[T any](ctx context.Context, s *Store, d document[T], at time.Time) ([]policy.Version[T], error) {
	v, ok, err := versions[T](s).AsOf(ctx, d.Doc, at)
	if err != nil || !ok {
		return nil, err
	}
	return []policy.Version[T]{version(v)}, nil
}

// TeamSettings returns the team's current settings (version 0 with the
// defaults when none were saved).
func (s *Store) TeamSettings(ctx context.Context, team string) (policy.TeamVersion, error) {
	d, err := teamDoc(team)
	if err != nil {
		return policy.TeamVersion{}, err
	}
	return current(ctx, s, d)
}

// SaveTeamSettings saves doc as the team's next version if expected is still
// the current version (AnyVersion: whatever is current), stamped with the
// server's time and the author.
func (s *Store) SaveTeamSettings(ctx context.Context, team, author string, doc policy.TeamSettings, expected int) (policy.TeamVersion, error) {
	d, err := teamDoc(team)
	if err != nil {
		return policy.TeamVersion{}, err
	}
	return save(ctx, s, d, author, doc.Clone(), expected)
}

// TeamHistory returns up to limit saved versions of the team's settings,
// newest first, older than version before (0: from the newest), and the
// before of the next page (0 when there is none).
func (s *Store) TeamHistory(ctx context.Context, team string, limit, before int) ([]policy.TeamVersion, int, error) {
	d, err := teamDoc(team)
	if err != nil {
		return nil, 0, err
	}
	return history(ctx, s, d, limit, before)
}

// SequenceOverride returns the sequence's current override (version 0,
// inheriting everything, when none was saved).
func (s *Store) SequenceOverride(ctx context.Context, team, seq string) (policy.SequenceVersion, error) {
	d, err := sequenceDoc(team, seq)
	if err != nil {
		return policy.SequenceVersion{}, err
	}
	return current(ctx, s, d)
}

// SaveSequenceOverride is SaveTeamSettings for a sequence's override.
func (s *Store) SaveSequenceOverride(ctx context.Context, team, seq, author string, doc policy.SequenceOverride, expected int) (policy.SequenceVersion, error) {
	d, err := sequenceDoc(team, seq)
	if err != nil {
		return policy.SequenceVersion{}, err
	}
	return save(ctx, s, d, author, doc, expected)
}

// SequenceHistory is TeamHistory for a sequence's override.
func (s *Store) SequenceHistory(ctx context.Context, team, seq string, limit, before int) ([]policy.SequenceVersion, int, error) {
	d, err := sequenceDoc(team, seq)
	if err != nil {
		return nil, 0, err
	}
	return history(ctx, s, d, limit, before)
}

// ResolveAt returns the policy in effect for the team's sequence at the
// moment at (the contact.added event's occurred_at), reading the one team
// version and the one override version that held then (one query each in
// the usual case) and resolving them with policy.Resolve.
func (s *Store) ResolveAt(ctx context.Context, team, seq string, at time.Time) (policy.Effective, error) {
	td, err := teamDoc(team)
	if err != nil {
		return policy.Effective{}, err
	}
	sd, err := sequenceDoc(team, seq)
	if err != nil {
		return policy.Effective{}, err
	}
	tv, err := asOfCached(ctx, s, td, at)
	if err != nil {
		return policy.Effective{}, err
	}
	sv, err := asOfCached(ctx, s, sd, at)
	if err != nil {
		return policy.Effective{}, err
	}
	return policy.Resolve(tv, sv, at), nil
}

// TeamSettingsAt returns the team settings in effect at the moment at (for
// rules that need no sequence: deduplication on contact.created, activity
// tracking), with the version they came from (0: the defaults).
func (s *Store) TeamSettingsAt(ctx context.Context, team string, at time.Time) (policy.TeamVersion, error) {
	d, err := teamDoc(team)
	if err != nil {
		return policy.TeamVersion{}, err
	}
	vs, err := asOfCached(ctx, s, d, at)
	if err != nil {
		return policy.TeamVersion{}, err
	}
	if len(vs) == 0 {
		return policy.TeamVersion{Document: policy.DefaultTeamSettings()}, nil
	}
	return vs[0], nil
}

// CountMembers counts the sequence's memberships in the ledger table.
func (s *Store) CountMembers(ctx context.Context, team, seq string) (int, error) {
	if err := policy.ValidateID("team_id", team); err != nil {
		return 0, err
	}
	if err := policy.ValidateID("sequence_id", seq); err != nil {
		return 0, err
	}
	expr, err := expression.NewBuilder().WithKeyCondition(
		expression.Key(resources.PartitionKey).Equal(expression.Value(ledgerdb.MembershipPK(team, seq))).
			And(expression.KeyBeginsWith(expression.Key(resources.SortKey), ledgerdb.MemberPrefix))).Build()
	if err != nil {
		return 0, fmt.Errorf("build key condition: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.ledger),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Select:                    types.SelectCount,
	}
	total := 0
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("count members of %s: %w", ledgerdb.MembershipPK(team, seq), err)
		}
		total += int(out.Count)
	}
	return total, nil
}

// BudgetPercent returns the team's API budget cap as its current settings
// say (the default when it never saved any).
func (s *Store) BudgetPercent(ctx context.Context, team string) (int, error) {
	tv, err := s.TeamSettings(ctx, team)
	if err != nil {
		return 0, err
	}
	return tv.Document.BudgetPercent(), nil
}

// RecentBudgets answers BudgetPercent from the team's current settings as
// this process read them at most MaxAge ago, reading them only when it has
// no read that recent. It is for the sync functions: a batch has just read
// the team's settings to resolve its events' policies, and the cap needs no
// second read. A changed cap takes effect within MaxAge. The admin API
// answers from Store.BudgetPercent, which always reads.
type RecentBudgets struct {
	Store  *Store
	MaxAge time.Duration // BudgetMaxAge in the functions
}

// BudgetMaxAge is how late a saved budget cap may reach the sync functions;
// they use the hold delay instead when it is shorter, so an event held by
// the cap comes back to the cap saved meanwhile.
const BudgetMaxAge = time.Minute

// BudgetPercent returns the team's API budget cap.
func (r RecentBudgets) BudgetPercent(ctx context.Context, team string) (int, error) {
	d, err := teamDoc(team)
	if err != nil {
		return 0, err
	}
	e, ok := r.Store.heads.get(d.PK)
	if !ok || e.readAt.Before(r.Store.Now().Add(-r.MaxAge)) {
		if e, err = readHead(ctx, r.Store, d); err != nil {
			return 0, err
		}
	}
	head, _ := e.head.(policy.TeamVersion) // the defaults when never saved
	return head.Document.BudgetPercent(), nil
}

// headReuseMargin: a document's current version read at time r answers
// "which version held at t" for every t up to r minus this margin. A version
// saved after the read is stamped later than the read (the same clock stamps
// it, see save), so it cannot have held at t; the margin covers a save
// stamped just before the read but committed just after it.
const headReuseMargin = 2 * time.Second

// maxHeads bounds the memo; past it, it starts again.
const maxHeads = 10000

// headMemo remembers each document's current version and when it was read,
// so that a batch of events (events are in the past) resolves each team's
// and sequence's policy with one read instead of one per event. A batch
// resolves its events side by side: reads of one document at once are one
// read (reads).
type headMemo struct {
	mu    sync.Mutex
	m     map[string]headEntry
	reads singleflight.Group
}

type headEntry struct {
	readAt time.Time
	head   any // policy.Version[T] of the document's T
}

func (h *headMemo) get(pk string) (headEntry, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.m[pk]
	return e, ok
}

func (h *headMemo) put(pk string, e headEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxHeads {
		h.m = map[string]headEntry{}
	}
	if old, ok := h.m[pk]; !ok || e.readAt.After(old.readAt) {
		h.m[pk] = e
	}
}

// readHead reads the document's current version into the memo; reads of
// one document at once are one read.
func readHead[T any](ctx context.Context, s *Store, d document[T]) (headEntry, error) {
	v, err, _ := s.heads.reads.Do(d.PK, func() (any, error) {
		readAt := s.Now()
		head, err := current(ctx, s, d)
		if err != nil {
			return nil, err
		}
		e := headEntry{readAt: readAt, head: head}
		s.heads.put(d.PK, e)
		return e, nil
	})
	if err != nil {
		return headEntry{}, err
	}
	return v.(headEntry), nil
}

// asOfCached is asOf, answered from the document's current version when
// that version was read late enough to know: one GetItem per document and
// process while events are older than the last read, instead of one query
// per event. A version older than the current one is answered by asOf.
//
// An event within headReuseMargin of now is too fresh for the margin to
// cover it; it takes a read started after it occurred, as the query asOf
// would make for it now, and that read is shared by the batch's events
// resolving side by side. Either read sees the saves committed by then.
func asOfCached[T any](ctx context.Context, s *Store, d document[T], at time.Time) ([]policy.Version[T], error) {
	fresh := at.After(s.Now().Add(-headReuseMargin))
	answers := func(e headEntry) bool {
		if fresh {
			return !e.readAt.Before(at)
		}
		return !at.After(e.readAt.Add(-headReuseMargin))
	}
	e, ok := s.heads.get(d.PK)
	// A read shared with another event may have started too early for this
	// one: then one read more. A clock that does not move on (a test's)
	// gets the query instead.
	for tries := 0; !ok || !answers(e); tries++ {
		if tries == 2 {
			return asOf(ctx, s, d, at)
		}
		var err error
		if e, err = readHead(ctx, s, d); err != nil {
			return nil, err
		}
		ok = true
	}
	head, _ := e.head.(policy.Version[T])
	switch {
	case head.Number == 0:
		return nil, nil // never saved by then: the defaults held
	case !head.EffectiveAt.After(at):
		return []policy.Version[T]{head}, nil
	}
	return asOf(ctx, s, d, at) // an older version held then
}
