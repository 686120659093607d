package motoserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// transact carries out a TransactWriteItems request on moto as the single
// writes it is made of, with DynamoDB's answer: every write is tried (the
// proxy holds the exclusive lock, so nothing else writes meanwhile), and
// when any condition fails every write done is undone and the answer is a
// TransactionCanceledException with one reason per item, the item found
// where asked for (ALL_OLD). It reports false, having answered nothing,
// for a request it does not handle (a ConditionCheck, a request it cannot
// read); moto then answers it.
//
// Readers may see a transaction half done; DynamoDB's isolation of reads
// is not emulated. The ClientRequestToken is ignored, as moto ignores it.
func (p *AtomicProxy) transact(w http.ResponseWriter, r *http.Request, target *url.URL, body []byte) bool {
	var in struct {
		TransactItems []map[string]map[string]any
	}
	if err := json.Unmarshal(body, &in); err != nil || len(in.TransactItems) == 0 || len(in.TransactItems) > 100 {
		return false
	}
	type write struct {
		op    string
		input map[string]any
		key   map[string]any
	}
	writes := make([]write, 0, len(in.TransactItems))
	seen := map[string]bool{}
	for _, ti := range in.TransactItems {
		if len(ti) != 1 {
			return false
		}
		for op, input := range ti {
			if op != "Put" && op != "Update" && op != "Delete" {
				return false
			}
			table, _ := input["TableName"].(string)
			var key map[string]any
			if op == "Put" {
				item, _ := input["Item"].(map[string]any)
				names, err := p.keyNames(r, target, table)
				if err != nil {
					return false
				}
				key = map[string]any{}
				for _, n := range names {
					key[n] = item[n]
				}
			} else {
				key, _ = input["Key"].(map[string]any)
			}
			kb, _ := json.Marshal(key)
			if seen[table+string(kb)] {
				return false // moto answers DynamoDB's validation error
			}
			seen[table+string(kb)] = true
			writes = append(writes, write{op: op, input: input, key: key})
		}
	}
	var undos []txUndo
	reasons := make([]map[string]any, len(writes))
	cancelled := false
	for i, wr := range writes {
		table, _ := wr.input["TableName"].(string)
		single := map[string]any{}
		for k, v := range wr.input {
			single[k] = v
		}
		single["ReturnValues"] = "ALL_OLD" // what to put back if the transaction is cancelled
		status, resp, err := p.call(r, target, wr.op+"Item", single)
		if err != nil {
			p.undo(r, target, undos)
			return p.fail(w, status, resp, err)
		}
		if status == http.StatusOK {
			var got struct{ Attributes map[string]any }
			if err := json.Unmarshal(resp, &got); err != nil {
				p.undo(r, target, undos)
				return p.fail(w, status, resp, err)
			}
			undos = append(undos, txUndo{table: table, key: wr.key, old: got.Attributes})
			reasons[i] = map[string]any{"Code": "None"}
			continue
		}
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
			Item    map[string]any
		}
		_ = json.Unmarshal(resp, &e)
		if !strings.HasSuffix(e.Type, "ConditionalCheckFailedException") {
			p.undo(r, target, undos)
			return p.fail(w, status, resp, nil)
		}
		cancelled = true
		reason := map[string]any{"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
		if e.Item != nil {
			reason["Item"] = e.Item
		}
		reasons[i] = reason
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if !cancelled {
		_, _ = w.Write([]byte("{}"))
		return true
	}
	p.undo(r, target, undos)
	codes := make([]string, len(reasons))
	for i, re := range reasons {
		codes[i], _ = re["Code"].(string)
	}
	out, _ := json.Marshal(map[string]any{
		"__type":              "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
		"Message":             "Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]",
		"CancellationReasons": reasons,
	})
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(out)
	return true
}

// txUndo is what a write of a transaction found.
type txUndo struct {
	table string
	key   map[string]any
	old   map[string]any // nil: the item did not exist
}

// undo puts back what the writes found, last first.
func (p *AtomicProxy) undo(r *http.Request, target *url.URL, undos []txUndo) {
	for i := len(undos) - 1; i >= 0; i-- {
		u := undos[i]
		if u.old == nil {
			_, _, _ = p.call(r, target, "DeleteItem", map[string]any{"TableName": u.table, "Key": u.key})
		} else {
			_, _, _ = p.call(r, target, "PutItem", map[string]any{"TableName": u.table, "Item": u.old})
		}
	}
}

// fail answers with moto's answer to a write, or a 502 when there was none.
func (p *AtomicProxy) fail(w http.ResponseWriter, status int, resp []byte, err error) bool {
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return true
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_, _ = w.Write(resp)
	return true
}

// keyNames returns the key attributes of table (read once).
func (p *AtomicProxy) keyNames(r *http.Request, target *url.URL, table string) ([]string, error) {
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	if names, ok := p.keys[table]; ok {
		return names, nil
	}
	status, resp, err := p.call(r, target, "DescribeTable", map[string]any{"TableName": table})
	if err != nil {
		return nil, err
	}
	var d struct {
		Table struct {
			KeySchema []struct{ AttributeName string }
		}
	}
	if status != http.StatusOK || json.Unmarshal(resp, &d) != nil || len(d.Table.KeySchema) == 0 {
		return nil, fmt.Errorf("describe %s: status %d", table, status)
	}
	var names []string
	for _, k := range d.Table.KeySchema {
		names = append(names, k.AttributeName)
	}
	if p.keys == nil {
		p.keys = map[string][]string{}
	}
	p.keys[table] = names
	return names, nil
}

// call sends one DynamoDB operation to moto with the original request's
// credentials (moto takes the account and region from them).
func (p *AtomicProxy) call(r *http.Request, target *url.URL, op string, in any) (int, []byte, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, target.String(), bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}
