package ledgerdb

import (
	"context"

	"github.com/sfsync/sfsync/shared/platform/dynamotx"
)

// MaxTransactItems is DynamoDB's limit on the writes of one
// TransactWriteItems call.
const MaxTransactItems = dynamotx.MaxItems

// ErrTransaction is returned when DynamoDB cancels a transaction for a
// reason other than a failed condition (validation, throttling, item size),
// or keeps cancelling it over conflicts. It is dynamotx.ErrRefused.
var ErrTransaction = dynamotx.ErrRefused

// transact writes units as dynamotx.Writer.Write does: units of one write
// each alone (half the write units of a transaction), others in
// TransactWriteItems calls of up to 100 writes, resending over conflicts
// with the ledger's backoff and attempt bound.
func (s *Store) transact(ctx context.Context, what string, units []dynamotx.Unit) ([]dynamotx.Result, error) {
	w := dynamotx.Writer{DB: s.db, Backoff: s.Backoff, MaxAttempts: s.MaxAttempts}
	return w.Write(ctx, what, units)
}
