package privacydb

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/resources"
)

// The receipt's item in the ledger table: pk ReceiptPK, sk ReceiptSK, the
// receipt as JSON in attribute receipt (privacy.Receipt: hashes of the
// team and the identifiers, never the identifiers), expires_at.
const ReceiptSK = "RECEIPT"

// ReceiptPK is the partition key of the team's erasure receipt id.
func ReceiptPK(team, id string) string { return ledgerdb.TeamPK(team) + "#ERASURE#" + id }

// ReceiptRetention is how long a receipt is kept: three years, long enough
// to answer a regulator or the person asking whether the erasure was done
// (the GDPR's general limitation periods run about as long), and no
// longer, since a receipt is still the team's record of a request.
const ReceiptRetention = 3 * 365 * 24 * time.Hour

const attrReceipt = "receipt"

// Receipts is privacy.Receipts on the ledger table.
type Receipts struct {
	DB interface {
		GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
		PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	}
	Table string
}

var _ privacy.Receipts = (*Receipts)(nil)

// Save implements privacy.Receipts: a put of the receipt's item, which
// expires ReceiptRetention after the erasure.
func (r *Receipts) Save(ctx context.Context, rc privacy.Receipt) error {
	if err := checkTeam(rc.TeamID); err != nil {
		return err
	}
	if !privacy.ValidReceiptID(rc.ID) {
		return &privacy.InputError{Field: "id", Problem: "not a receipt id"}
	}
	body, err := json.Marshal(rc)
	if err != nil {
		return fmt.Errorf("encode receipt %s: %w", rc.ID, err)
	}
	item := dynamotx.Key(ReceiptPK(rc.TeamID, rc.ID), ReceiptSK)
	item[attrReceipt] = &types.AttributeValueMemberS{Value: string(body)}
	item[resources.TTLAttribute] = &types.AttributeValueMemberN{Value: strconv.FormatInt(rc.At.Add(ReceiptRetention).Unix(), 10)}
	if _, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item}); err != nil {
		return fmt.Errorf("save receipt %s: %w", rc.ID, err)
	}
	return nil
}

// Get implements privacy.Receipts.
func (r *Receipts) Get(ctx context.Context, team, id string) (privacy.Receipt, error) {
	if err := checkTeam(team); err != nil {
		return privacy.Receipt{}, err
	}
	if !privacy.ValidReceiptID(id) {
		return privacy.Receipt{}, fmt.Errorf("receipt %q: %w", id, privacy.ErrNoReceipt)
	}
	out, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: dynamotx.Key(ReceiptPK(team, id), ReceiptSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return privacy.Receipt{}, fmt.Errorf("read receipt %s: %w", id, err)
	}
	body := dynamotx.String(out.Item, attrReceipt)
	if body == "" {
		return privacy.Receipt{}, fmt.Errorf("receipt %s of %s: %w", id, team, privacy.ErrNoReceipt)
	}
	var rc privacy.Receipt
	if err := json.Unmarshal([]byte(body), &rc); err != nil {
		return privacy.Receipt{}, fmt.Errorf("decode receipt %s: %w", id, err)
	}
	rc.TeamID = team
	if rc.Refused == nil {
		rc.Refused = []privacy.Refusal{}
	}
	return rc, nil
}
