package ledgerdb

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// The keys of the ledger table. Every item of the table is keyed here, by
// whichever package writes it (this one, activitydb, mappingdb) or reads it
// (policydb counts memberships); docs/tables.md lists the items with their
// attributes, writers, conditions and expiry. Ids never contain "#" (the
// event contract's id rule), so keys split unambiguously.

// teamPrefix begins every partition key of the table.
const teamPrefix = "TEAM#"

// TeamPK is the partition key of the team's own items: the mapping counts
// (MappingCountSK).
func TeamPK(team string) string { return teamPrefix + team }

// Outcomes: pk ContactPK, sk OutcomeSK, with the rest of what the ledger
// keeps of the contact, so one query of the contact's partition finds them
// (an erasure, the contact route) without an index entry per outcome.
//
// Before the outcomes moved there (December 2026) each had its own
// partition, pk EventPK and sk LegacyOutcomeSK, and was in the contact
// index under cpk ContactPK and csk OutcomeIndexSK. Those items are read
// through the index only, until they expire (OutcomeTTL).

// OutcomePrefix begins the sort key of every outcome in a contact's
// partition.
const OutcomePrefix = "OUTCOME#"

// OutcomeSK is the sort key of an event's outcome in its contact's
// partition.
func OutcomeSK(eventID string) string { return OutcomePrefix + eventID }

// LegacyOutcomeSK is the sort key of an outcome in its event's own
// partition (EventPK), where outcomes were written before December 2026.
const LegacyOutcomeSK = "OUTCOME"

// EventPK is the partition key of an outcome written before December 2026.
func EventPK(team, eventID string) string { return TeamPK(team) + "#EVENT#" + eventID }

// OutcomeIndexPrefix begins the contact-index sort key of every outcome
// written before December 2026.
const OutcomeIndexPrefix = "OUTCOME#"

// OutcomeIndexSK is such an outcome's sort key in the contact index: newer
// outcomes sort after older ones.
func OutcomeIndexSK(at time.Time, eventID string) string {
	return OutcomeIndexPrefix + Stamp(at) + "#" + eventID
}

// Records and claims: pk EmailPK, sk RecordSK; a saved record in the
// contact index under cpk ContactPK and csk RecordIndexSK.
const RecordSK = "RECORD"

// EmailPK is the partition key of a normalized email's claim and record.
func EmailPK(team, email string) string { return TeamPK(team) + "#EMAIL#" + email }

// RecordIndexPrefix begins the contact-index sort key of every record.
const RecordIndexPrefix = "RECORD#"

// RecordIndexSK is a saved record's sort key in the contact index.
func RecordIndexSK(email string) string { return RecordIndexPrefix + email }

// What lifecycle keeps per email (lifecycledb): pk EmailPK, sk OptOutSK
// and BounceSK, beside the email's record.
const (
	OptOutSK = "OPTOUT"
	BounceSK = "BOUNCE"
)

// ContactPK is the partition key of a contact's outcomes and FAILURES
// item, and the contact index's partition key (cpk) of the items indexed
// there.
func ContactPK(team, contactID string) string { return TeamPK(team) + "#CONTACT#" + contactID }

// ContactOf splits a ContactPK into its team and contact; ok is false for
// any other key.
func ContactOf(pk string) (team, contactID string, ok bool) {
	rest, found := strings.CutPrefix(pk, teamPrefix)
	if !found {
		return "", "", false
	}
	team, contactID, ok = strings.Cut(rest, "#CONTACT#")
	if !ok {
		return "", "", false
	}
	return team, contactID, true
}

// FailuresSK is the sort key of a contact's open failures.
const FailuresSK = "FAILURES"

// ErrorsPK is the partition key of the team's failure index.
func ErrorsPK(team string) string { return TeamPK(team) + "#ERRORS" }

// ErrorSK is a failed outcome's sort key in the failure index: grouped by
// error code.
func ErrorSK(code, contactID, eventID string) string { return code + "#" + contactID + "#" + eventID }

// Memberships: pk MembershipPK, sk MemberSK.

// MembershipPK is the partition key of a sequence's memberships.
func MembershipPK(team, seq string) string { return TeamPK(team) + "#SEQ#" + seq }

// MemberPrefix begins the sort key of every membership.
const MemberPrefix = "MEMBER#"

// MemberSK is a membership's sort key.
func MemberSK(contactID string) string { return MemberPrefix + contactID }

// MemberIndexPrefix begins the contact-index sort key of every membership.
const MemberIndexPrefix = "MEMBER#"

// MemberIndexSK is a membership's sort key in the contact index (cpk
// ContactPK), so an erasure finds a contact's memberships.
func MemberIndexSK(seq string) string { return MemberIndexPrefix + seq }

// Activity claims and logged Tasks: pk ActivityPK, sk ActivitySK.
const ActivitySK = "TASK"

// ActivityPK is the partition key of one activity (activitysync.Key).
func ActivityPK(team, key string) string { return TeamPK(team) + "#ACTIVITY#" + key }

// ActivityIndexPrefix begins the contact-index sort key of every logged
// activity.
const ActivityIndexPrefix = "ACTIVITY#"

// ActivityIndexSK is a logged activity's sort key in the contact index
// (cpk ContactPK), so an erasure finds the Tasks made for a contact.
func ActivityIndexSK(key string) string { return ActivityIndexPrefix + key }

// Held activity: the team's list of memberships with held activity
// (pk HeldListPK, sk HeldListSK), and each membership's held events
// (pk HeldPK, sk HeldEventSK).

// HeldListPK is the partition key of the team's list of memberships with
// held activity.
func HeldListPK(team string) string { return TeamPK(team) + "#HELD" }

// HeldListSK is a membership's sort key in the team's held list.
func HeldListSK(k ledger.MemberKey) string { return k.SequenceID + "#" + k.ContactID }

// HeldPK is the partition key of a membership's held events.
func HeldPK(team string, k ledger.MemberKey) string { return HeldListPK(team) + "#" + HeldListSK(k) }

// HeldEventSK is a held event's sort key: oldest first.
func HeldEventSK(occurredAt time.Time, eventID string) string {
	return Stamp(occurredAt) + "#" + eventID
}

// HeldEventID is the event id of a HeldEventSK; ok is false for any other
// key.
func HeldEventID(sk string) (eventID string, ok bool) {
	i := strings.LastIndex(sk, "#")
	if i < 0 {
		return "", false
	}
	return sk[i+1:], true
}

// The cached Task fields of the team's org: pk TaskFieldsPK, sk
// TaskFieldsSK.
const TaskFieldsSK = "FIELDS"

// TaskFieldsPK is the partition key of the cached Task fields.
func TaskFieldsPK(team string) string { return TeamPK(team) + "#TASK" }

// Mapping counts: pk TeamPK, sk MappingCountSK, one number attribute per
// mapping version (MappingCountAttr).

// MappingCountSK is the sort key of the team's synced-contact counts of
// one object.
func MappingCountSK(o event.SalesforceObject) string { return "MAPPINGCOUNT#" + string(o) }

// MappingCountAttr is the attribute counting the contacts synced with
// mapping version n.
func MappingCountAttr(n int) string { return fmt.Sprintf("v%010d", n) }

// MappingCountVersion is the version a MappingCountAttr counts; ok is false
// for any other attribute.
func MappingCountVersion(attr string) (version int, ok bool) {
	digits, found := strings.CutPrefix(attr, "v")
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// sortableTime formats times in keys so that byte order is time order.
const sortableTime = "2006-01-02T15:04:05.000000000Z"

// Stamp formats t, in UTC, for a sort key: byte order is time order.
func Stamp(t time.Time) string { return t.UTC().Format(sortableTime) }
