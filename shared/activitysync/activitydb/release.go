package activitydb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// BatchSender is the part of the SQS API the Releaser uses.
type BatchSender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Releaser implements activitysync.Releaser: it sends a membership's held
// activities to the activity queue again (10 a call, in their team's
// message group, so SQS fair queueing counts them against it), where activity sync
// logs or skips them by the membership's new state and lets them go. The
// held copies stay until then, so a lost send loses nothing.
type Releaser struct {
	Store    *Store
	SQS      BatchSender
	QueueURL string // the activity queue
}

var _ activitysync.Releaser = (*Releaser)(nil)

// Release re-sends the held activities of one membership.
func (r *Releaser) Release(ctx context.Context, team string, k ledger.MemberKey) error {
	evs, err := r.Store.Held(ctx, team, k)
	if err != nil {
		return fmt.Errorf("release held activities: %w", err)
	}
	for start := 0; start < len(evs); start += 10 {
		chunk := evs[start:min(start+10, len(evs))]
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(chunk))
		for i, ev := range chunk {
			body, err := event.Encode(ev)
			if err != nil {
				return err
			}
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)),
				MessageGroupId: aws.String(cmp.Or(ev.TeamID, team))} // the team's group, as the sequencer sends it
		}
		out, err := r.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(r.QueueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("release held activities: %w", err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("release held activities: %d of %d not sent: %s", len(out.Failed), len(entries), aws.ToString(out.Failed[0].Message))
		}
	}
	return nil
}

// ReleaseAll releases the held activity of many memberships with one read
// of what the team has held, then one per membership that has any.
func (r *Releaser) ReleaseAll(ctx context.Context, team string, keys []ledger.MemberKey) error {
	if len(keys) == 0 {
		return nil
	}
	held, err := r.Store.HeldKeys(ctx, team)
	if err != nil {
		return fmt.Errorf("release held activities: %w", err)
	}
	var errs []error
	for _, k := range keys {
		if _, ok := held[k]; ok {
			if err := r.Release(ctx, team, k); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
