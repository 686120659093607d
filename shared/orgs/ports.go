package orgs

import (
	"context"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/delivery"
)

// Contacts is s as contact sync's Orgs port.
func (s *Orgs) Contacts() contactsync.Orgs { return contactOrgs{s} }

// Activities is s as activity sync's Orgs port.
func (s *Orgs) Activities() activitysync.Orgs { return activityOrgs{s} }

type contactOrgs struct{ *Orgs }

func (s contactOrgs) Open(ctx context.Context, teamID string) (contactsync.Org, delivery.Connection, error) {
	o, conn, err := s.Orgs.Open(ctx, teamID)
	if err != nil {
		return nil, conn, err
	}
	return o, conn, nil
}

type activityOrgs struct{ *Orgs }

func (s activityOrgs) Open(ctx context.Context, teamID string) (activitysync.Org, delivery.Connection, error) {
	o, conn, err := s.Orgs.Open(ctx, teamID)
	if err != nil {
		return nil, conn, err
	}
	return taskOrg{o}, conn, nil
}

// taskOrg is an Org in activity sync's terms: its Task describe, and its
// Task lookups by activity sync's subject prefix and description footer.
type taskOrg struct{ *Org }

func (o taskOrg) DescribeTask(ctx context.Context) (activitysync.TaskFields, error) {
	tf, err := o.Org.DescribeTask(ctx)
	return activitysync.TaskFields{TypeEmail: tf.TypeEmail, KeyField: tf.KeyField, ClosedStatus: tf.ClosedStatus}, err
}

func (o taskOrg) FindTasks(ctx context.Context, keyField string, keys, whoIDs []string) (map[string]string, error) {
	return o.Org.FindTasks(ctx, keyField, keys, whoIDs, activitysync.SubjectPrefix, activitysync.KeyFromDescription)
}

var (
	_ contactsync.Org  = (*Org)(nil)
	_ activitysync.Org = taskOrg{}
)
