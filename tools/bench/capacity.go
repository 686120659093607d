package main

// The DynamoDB capacity the stack's requests would consume on DynamoDB
// on-demand, computed from the requests and answers the counting proxy sees.
//
// moto does not measure it: asked for ReturnConsumedCapacity it answers a
// constant (1.0 for a write, 0.5 for a GetItem, 2.0 per TransactGetItems
// item) whatever the item's size, and the functions do not ask for it
// anyway. So the proxy works it out by DynamoDB's documented rules (read
// 2026-12-07):
//
//   - item size, by attribute:
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
//     the sum of the UTF-8 lengths of the attribute names and the sizes of
//     the values: a string its UTF-8 bytes, a number 1 byte per two
//     significant digits (leading and trailing zeros trimmed) plus 1, a
//     binary its raw bytes, a boolean or null 1, a list or map 3 bytes plus
//     its elements plus 1 byte per element (a map element counts its name);
//     a set is counted as its elements;
//   - units per operation:
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
//     and https://aws.amazon.com/dynamodb/pricing/on-demand/ : a write is
//     1 write request unit per 1 KB of item size, rounded up, 2 in a
//     TransactWriteItems; a read is 1 read request unit per 4 KB strongly
//     consistent (ConsistentRead), half eventually consistent, 2 in a
//     TransactGetItems; a read of an item that does not exist costs as a
//     read of a small one; BatchGetItem and BatchWriteItem count each item
//     on its own; Query and Scan count the total size of the items read,
//     rounded up to 4 KB once per request; PutItem and UpdateItem cost by
//     the larger of the item before and after, DeleteItem by the deleted
//     item;
//   - a write whose condition fails still consumes write units, by the size
//     of the item it found (at least 1):
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate
//   - a global secondary index costs its own writes: one to put an item
//     that enters the index (or whose projected attributes change), one to
//     delete one that leaves it, two when an index key changes:
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes
//
// What the proxy cannot see it approximates, and says so here:
//
//   - the item before a write: the meter keeps the size of every item it has
//     seen written or read (the shadow), by attribute; every write of the
//     bench stack passes through the proxy, so the shadow knows each item
//     the run made. An answer that carries the item (ReturnValues,
//     ReturnValuesOnConditionCheckFailure ALL_OLD, a cancelled
//     transaction's reasons) replaces the shadow's guess;
//   - the item after an UpdateItem that returns nothing: the update
//     expression applied to the shadow, attribute by attribute (SET, REMOVE,
//     ADD, DELETE on top-level attributes; a nested path adds its value to
//     its attribute); ALL_NEW or UPDATED_NEW answers are used when given;
//   - a Query or Scan with a filter: DynamoDB charges the items read before
//     the filter; those dropped are counted at the average size of those
//     returned (ScannedCount / Count);
//   - a cancelled TransactWriteItems: counted as if each of its writes had
//     been tried once at the transactional rate on the item it found
//     (DynamoDB does not document the units of a cancelled transaction);
//   - an index entry is counted at the size of the whole item (every index
//     of the stack projects all attributes) and at the standard write rate.

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/sfsync/sfsync/shared/resources"
)

// Capacity is DynamoDB request units: reads, table writes, and the writes
// DynamoDB makes to keep global secondary indexes in step (billed as write
// request units too).
type Capacity struct {
	Read       float64 `json:"read_request_units"`
	Write      float64 `json:"write_request_units"`
	IndexWrite float64 `json:"index_write_request_units"`
}

func (c Capacity) add(o Capacity) Capacity {
	return Capacity{Read: c.Read + o.Read, Write: c.Write + o.Write, IndexWrite: c.IndexWrite + o.IndexWrite}
}

func (c Capacity) sub(o Capacity) Capacity {
	return Capacity{Read: c.Read - o.Read, Write: c.Write - o.Write, IndexWrite: c.IndexWrite - o.IndexWrite}
}

// attrValue is a DynamoDB AttributeValue as the JSON protocol spells it.
type attrValue struct {
	S    *string              `json:"S,omitempty"`
	N    *string              `json:"N,omitempty"`
	B    []byte               `json:"B,omitempty"` // base64 in JSON
	BOOL *bool                `json:"BOOL,omitempty"`
	NULL *bool                `json:"NULL,omitempty"`
	SS   []string             `json:"SS,omitempty"`
	NS   []string             `json:"NS,omitempty"`
	BS   [][]byte             `json:"BS,omitempty"`
	L    []attrValue          `json:"L,omitempty"`
	M    map[string]attrValue `json:"M,omitempty"`
}

type item = map[string]attrValue

// numberSize is a number's size: 1 byte per two significant digits, leading
// and trailing zeros trimmed, plus 1.
func numberSize(n string) int {
	if i := strings.IndexAny(n, "eE"); i >= 0 {
		n = n[:i]
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, n)
	digits = strings.TrimRight(strings.TrimLeft(digits, "0"), "0")
	return (len(digits)+1)/2 + 1
}

// valueSize is the size of a value, without its attribute name (Go strings
// hold UTF-8, so len is the UTF-8 byte count the rules ask for).
func valueSize(v attrValue) int {
	switch {
	case v.S != nil:
		return len(*v.S)
	case v.N != nil:
		return numberSize(*v.N)
	case v.B != nil:
		return len(v.B)
	case v.BOOL != nil, v.NULL != nil:
		return 1
	case v.SS != nil:
		n := 0
		for _, s := range v.SS {
			n += len(s)
		}
		return n
	case v.NS != nil:
		n := 0
		for _, s := range v.NS {
			n += numberSize(s)
		}
		return n
	case v.BS != nil:
		n := 0
		for _, b := range v.BS {
			n += len(b)
		}
		return n
	case v.L != nil:
		n := 3
		for _, e := range v.L {
			n += valueSize(e) + 1
		}
		return n
	case v.M != nil:
		n := 3
		for k, e := range v.M {
			n += len(k) + valueSize(e) + 1
		}
		return n
	}
	return 0
}

// itemSize is an item's size: its attribute names and values.
func itemSize(it item) int {
	n := 0
	for k, v := range it {
		n += len(k) + valueSize(v)
	}
	return n
}

// writeUnits is the write request units of a write of size bytes: 1 per KB,
// rounded up, at least 1; twice that in a transaction.
func writeUnits(size int, transactional bool) float64 {
	u := math.Ceil(float64(max(size, 1)) / 1024)
	if transactional {
		u *= 2
	}
	return u
}

// Read consistency and its factor per 4 KB.
type readMode float64

const (
	eventual      readMode = 0.5
	strong        readMode = 1
	transactional readMode = 2
)

// readUnits is the read request units of reading size bytes (one item, or
// one Query's items together): per 4 KB, rounded up, at least one.
func readUnits(size int, m readMode) float64 {
	return math.Ceil(float64(max(size, 1))/4096) * float64(m)
}

func consistency(consistent bool) readMode {
	if consistent {
		return strong
	}
	return eventual
}

// shadowItem is what the meter knows of an item: each top-level attribute's
// size (name and value) and the string values of the table's index keys.
type shadowItem struct {
	attrs map[string]int
	keys  map[string]string
}

func (s *shadowItem) size() int {
	if s == nil {
		return 0
	}
	n := 0
	for _, v := range s.attrs {
		n += v
	}
	return n
}

// indexDef is a global secondary index's key attributes.
type indexDef struct{ pk, sk string }

// capacityMeter computes the capacity of each request from its body and
// answer, keeping the shadow of the items. It is safe for concurrent use.
type capacityMeter struct {
	mu      sync.Mutex
	shadow  map[string]*shadowItem
	indexes map[string][]indexDef // table name -> its indexes

	// op and usage are the request being observed and its units by item
	// kind so far (kinds.go).
	op    string
	usage kindUsage
}

// charge attributes c, spent on items items of kind, to the request being
// observed (action: "" or the action within a TransactWriteItems or
// BatchWriteItem, ".Put"), and returns c.
func (m *capacityMeter) charge(kind, action string, txn, refused bool, index string, c Capacity, items int64) Capacity {
	k := kindKey{Kind: kind, Op: m.op + action, Txn: txn, Refused: refused, Index: index}
	m.usage[k] = m.usage[k].add(kindUse{Capacity: c, Items: items})
	return c
}

func newCapacityMeter() *capacityMeter {
	return &capacityMeter{shadow: map[string]*shadowItem{}, indexes: map[string][]indexDef{}}
}

// setTables names the deployed tables (logical name -> table name), so the
// meter knows which have indexes (shared/resources declares them).
func (m *capacityMeter) setTables(names map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range resources.Tables {
		name, ok := names[t.Name]
		if !ok {
			continue
		}
		m.indexes[name] = nil
		for _, ix := range t.Indexes {
			m.indexes[name] = append(m.indexes[name], indexDef{ix.PartitionKey, ix.SortKey})
		}
	}
}

// keyOf is the shadow key of an item or key in table: the table and the
// primary key's values (every table of the stack is keyed pk and sk).
func keyOf(table string, it item) string {
	var b strings.Builder
	b.WriteString(table)
	for _, k := range []string{resources.PartitionKey, resources.SortKey} {
		b.WriteByte(0)
		v := it[k]
		switch {
		case v.S != nil:
			b.WriteString("S" + *v.S)
		case v.N != nil:
			b.WriteString("N" + *v.N)
		case v.B != nil:
			b.WriteString("B" + string(v.B))
		}
	}
	return b.String()
}

// shadowOf builds what the meter keeps of a whole item of table.
func (m *capacityMeter) shadowOf(table string, it item) *shadowItem {
	s := &shadowItem{attrs: make(map[string]int, len(it)), keys: map[string]string{}}
	for k, v := range it {
		s.attrs[k] = len(k) + valueSize(v)
	}
	for _, ix := range m.indexes[table] {
		for _, k := range []string{ix.pk, ix.sk} {
			if v, ok := it[k]; ok && v.S != nil {
				s.keys[k] = *v.S
			}
		}
	}
	return s
}

// inIndex reports whether s is in the index (has both its keys), and the
// index key.
func (s *shadowItem) inIndex(ix indexDef) (string, bool) {
	if s == nil {
		return "", false
	}
	p, ok1 := s.keys[ix.pk]
	k, ok2 := s.keys[ix.sk]
	return p + "\x00" + k, ok1 && ok2
}

// write is the capacity of a write that turned before into after (either
// nil: no item) in table.
func (m *capacityMeter) write(table string, before, after *shadowItem, txn bool) Capacity {
	c := Capacity{Write: writeUnits(max(before.size(), after.size()), txn)}
	for _, ix := range m.indexes[table] {
		kb, inB := before.inIndex(ix)
		ka, inA := after.inIndex(ix)
		switch {
		case inB && inA && kb != ka: // the index entry moves: a delete and a put
			c.IndexWrite += writeUnits(before.size(), false) + writeUnits(after.size(), false)
		case inA: // enters the index, or its projection changes
			c.IndexWrite += writeUnits(after.size(), false)
		case inB: // leaves the index
			c.IndexWrite += writeUnits(before.size(), false)
		}
	}
	return c
}

// failed is the capacity of a write refused by its condition: the units of
// the item it found.
func failed(found *shadowItem, txn bool) Capacity {
	return Capacity{Write: writeUnits(found.size(), txn)}
}

// errorType is the exception name of a DynamoDB error answer.
func errorType(resp []byte) string {
	var e struct {
		Type string `json:"__type"`
	}
	_ = json.Unmarshal(resp, &e)
	_, name, ok := strings.Cut(e.Type, "#")
	if !ok {
		return e.Type
	}
	return name
}

// observe returns the capacity of one request (op is the X-Amz-Target
// operation, req and resp the JSON bodies, status the HTTP status) and
// keeps what it learnt of the items.
func (m *capacityMeter) observe(op string, req, resp []byte, status int) Capacity {
	c, _ := m.observeKinds(op, req, resp, status)
	return c
}

// observeKinds is observe, with the request's units by item kind (their
// sum is the capacity); each kind it touched counts the request once.
func (m *capacityMeter) observeKinds(op string, req, resp []byte, status int) (Capacity, kindUsage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.op, m.usage = op, kindUsage{}
	c := m.observeLocked(op, req, resp, status)
	u := m.usage
	m.usage = nil
	for k, v := range u {
		v.Requests = 1
		u[k] = v
	}
	return c, u
}

func (m *capacityMeter) observeLocked(op string, req, resp []byte, status int) Capacity {
	ok := status == 200
	cond := !ok && errorType(resp) == "ConditionalCheckFailedException"
	if !ok && !cond && !(op == "TransactWriteItems" && errorType(resp) == "TransactionCanceledException") {
		return Capacity{} // refused before any work: validation, throttling, a missing table
	}
	switch op {
	case "GetItem":
		return m.getItem(req, resp)
	case "BatchGetItem":
		return m.batchGet(req, resp)
	case "Query", "Scan":
		return m.query(req, resp)
	case "TransactGetItems":
		return m.transactGet(req, resp)
	case "PutItem":
		return m.putItem(req, resp, cond)
	case "UpdateItem":
		return m.updateItem(req, resp, cond)
	case "DeleteItem":
		return m.deleteItem(req, resp, cond)
	case "BatchWriteItem":
		return m.batchWrite(req, resp)
	case "TransactWriteItems":
		return m.transactWrite(req, resp, ok)
	}
	return Capacity{}
}

// seen notes a whole item read from table (a projection is not whole).
func (m *capacityMeter) seen(table string, it item) {
	if len(it) > 0 {
		m.shadow[keyOf(table, it)] = m.shadowOf(table, it)
	}
}

// readSize is the size of the item at key read in full (it), or, when the
// read returned only some attributes (a projection costs the whole item),
// the larger of what came and the shadow's copy.
func (m *capacityMeter) readSize(table, key string, it item, projected bool) int {
	if !projected {
		m.seen(table, it)
		return itemSize(it)
	}
	return max(itemSize(it), m.shadow[key].size())
}

func (m *capacityMeter) getItem(req, resp []byte) Capacity {
	var in struct {
		TableName            string
		Key                  item
		ConsistentRead       bool
		ProjectionExpression string
	}
	var out struct{ Item item }
	_ = json.Unmarshal(req, &in)
	_ = json.Unmarshal(resp, &out)
	key := keyOf(in.TableName, in.Key)
	size := 0
	if len(out.Item) == 0 {
		delete(m.shadow, key)
	} else {
		size = m.readSize(in.TableName, key, out.Item, in.ProjectionExpression != "")
	}
	return m.charge(m.kindAt(key), "", false, false, "", Capacity{Read: readUnits(size, consistency(in.ConsistentRead))}, 1)
}

// kindAt is the kind of the item at shadow key key, by what the shadow
// holds of it.
func (m *capacityMeter) kindAt(key string) string { return kindOfKey(key, m.shadow[key]) }

type keysAndAttributes struct {
	Keys                 []item
	ConsistentRead       bool
	ProjectionExpression string
}

// matches reports whether it (perhaps a projection without some key
// attributes) is the item of key k.
func matches(k, it item) bool {
	for _, name := range []string{resources.PartitionKey, resources.SortKey} {
		if v, ok := it[name]; ok && keyOf("", item{name: v}) != keyOf("", item{name: k[name]}) {
			return false
		}
	}
	return true
}

func (m *capacityMeter) batchGet(req, resp []byte) Capacity {
	var in struct{ RequestItems map[string]keysAndAttributes }
	var out struct {
		Responses       map[string][]item
		UnprocessedKeys map[string]keysAndAttributes
	}
	_ = json.Unmarshal(req, &in)
	_ = json.Unmarshal(resp, &out)
	var c Capacity
	for table, ka := range in.RequestItems {
		unprocessed := map[string]bool{}
		for _, k := range out.UnprocessedKeys[table].Keys {
			unprocessed[keyOf(table, k)] = true
		}
		projected := ka.ProjectionExpression != ""
		got := out.Responses[table]
		for _, k := range ka.Keys {
			key := keyOf(table, k)
			if unprocessed[key] {
				continue
			}
			size := -1
			for _, it := range got {
				if matches(k, it) {
					size = m.readSize(table, key, it, projected)
					break
				}
			}
			if size < 0 { // not found
				size = 0
				delete(m.shadow, key)
			}
			// Each item is rounded up to 4 KB on its own.
			c = c.add(m.charge(m.kindAt(key), "", false, false, "", Capacity{Read: readUnits(size, consistency(ka.ConsistentRead))}, 1))
		}
	}
	return c
}

func (m *capacityMeter) query(req, resp []byte) Capacity {
	var in struct {
		TableName                 string
		IndexName                 string
		ConsistentRead            bool
		ProjectionExpression      string
		Select                    string
		ExpressionAttributeValues map[string]attrValue
	}
	var out struct {
		Items               []item
		Count, ScannedCount int
	}
	_ = json.Unmarshal(req, &in)
	_ = json.Unmarshal(resp, &out)
	projected := in.ProjectionExpression != ""
	total := 0
	// The units are the request's, rounded once: each kind read gets its
	// share by size; a Query that returns nothing is charged to the kind
	// its key condition names.
	kindSize, kindItems := map[string]int{}, map[string]int64{}
	for _, it := range out.Items {
		// The stack's index projects every attribute, so an item read
		// through it is whole and keyed as in the table.
		key := keyOf(in.TableName, it)
		size := m.readSize(in.TableName, key, it, projected)
		total += size
		kind := kindOfItem(it)
		if s := m.shadow[key]; s != nil {
			kind = kindOfKey(key, s)
		}
		kindSize[kind] += size
		kindItems[kind]++
	}
	switch {
	case in.Select == "COUNT":
		// No items come back: they are counted at the table's average size.
		total = out.ScannedCount * m.averageSize(in.TableName)
		kindItems[queryKind(in.ExpressionAttributeValues)] += int64(out.ScannedCount)
	case out.Count > 0 && out.ScannedCount > out.Count:
		// A filter's dropped items were read too: counted at the average
		// size of those returned.
		total = total * out.ScannedCount / out.Count
	}
	mode := consistency(in.ConsistentRead)
	if in.IndexName != "" {
		mode = eventual // a global secondary index reads eventually consistent only
	}
	c := Capacity{Read: readUnits(total, mode)}
	sized := 0
	for _, n := range kindSize {
		sized += n
	}
	if sized == 0 {
		kind := queryKind(in.ExpressionAttributeValues)
		m.charge(kind, "", false, false, in.IndexName, c, kindItems[kind])
		return c
	}
	for kind, n := range kindSize {
		m.charge(kind, "", false, false, in.IndexName, Capacity{Read: c.Read * float64(n) / float64(sized)}, kindItems[kind])
	}
	return c
}

// queryKind is the kind of item a Query's key condition asks for, from its
// values: the partition key is the longest that begins as one, the sort
// key (or its prefix) the first other string by placeholder. A Scan has
// none: "other".
func queryKind(values map[string]attrValue) string {
	names := slices.Sorted(maps.Keys(values))
	pk, sk := "", ""
	for _, n := range names {
		v := values[n].S
		if v == nil {
			continue
		}
		isPK := false
		for _, p := range []string{"TEAM#", "STATE#", "CONSENTS#", "LIMIT#", "COOLDOWN#", "PURGE#"} {
			isPK = isPK || strings.HasPrefix(*v, p)
		}
		switch {
		case isPK && len(*v) > len(pk):
			pk = *v
		case !isPK && sk == "":
			sk = *v
		}
	}
	return itemKind(pk, sk, nil)
}

// averageSize is the mean size of the items of table the meter knows.
func (m *capacityMeter) averageSize(table string) int {
	n, sum := 0, 0
	for k, s := range m.shadow {
		if strings.HasPrefix(k, table+"\x00") {
			n++
			sum += s.size()
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

func (m *capacityMeter) transactGet(req, resp []byte) Capacity {
	var in struct {
		TransactItems []struct {
			Get struct {
				TableName string
				Key       item
			}
		}
	}
	var out struct{ Responses []struct{ Item item } }
	_ = json.Unmarshal(req, &in)
	_ = json.Unmarshal(resp, &out)
	var c Capacity
	for i, ti := range in.TransactItems {
		size := 0
		if i < len(out.Responses) {
			size = itemSize(out.Responses[i].Item)
			m.seen(ti.Get.TableName, out.Responses[i].Item)
		}
		key := keyOf(ti.Get.TableName, ti.Get.Key)
		c = c.add(m.charge(m.kindAt(key), "", true, false, "", Capacity{Read: readUnits(size, transactional)}, 1))
	}
	return c
}

// found is the item a write found: the answer's copy when it carries one,
// else the shadow's.
func (m *capacityMeter) found(table, key string, answered item) *shadowItem {
	if len(answered) > 0 {
		s := m.shadowOf(table, answered)
		m.shadow[key] = s
		return s
	}
	return m.shadow[key]
}

type putInput struct {
	TableName    string
	Item         item
	ReturnValues string
}

// condFailure is a ConditionalCheckFailedException's answer: the item found
// when the request asked for it (ReturnValuesOnConditionCheckFailure).
type condFailure struct{ Item item }

func (m *capacityMeter) putItem(req, resp []byte, cond bool) Capacity {
	var in putInput
	_ = json.Unmarshal(req, &in)
	key := keyOf(in.TableName, in.Item)
	if cond {
		var f condFailure
		_ = json.Unmarshal(resp, &f)
		// Charged to the kind the put would have written (a claim
		// refused by a saved record is a claim's cost).
		return m.charge(kindOfItem(in.Item), "", false, true, "", failed(m.found(in.TableName, key, f.Item), false), 1)
	}
	var out struct{ Attributes item }
	_ = json.Unmarshal(resp, &out)
	before := m.found(in.TableName, key, out.Attributes) // ALL_OLD gives it exactly
	after := m.shadowOf(in.TableName, in.Item)
	m.shadow[key] = after
	return m.charge(kindOfKey(key, after), "", false, false, "", m.write(in.TableName, before, after, false), 1)
}

type updateInput struct {
	TableName                 string
	Key                       item
	UpdateExpression          string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues map[string]attrValue
	ReturnValues              string
}

func (m *capacityMeter) updateItem(req, resp []byte, cond bool) Capacity {
	var in updateInput
	_ = json.Unmarshal(req, &in)
	key := keyOf(in.TableName, in.Key)
	if cond {
		var f condFailure
		_ = json.Unmarshal(resp, &f)
		found := m.found(in.TableName, key, f.Item)
		return m.charge(kindOfKey(key, found), "", false, true, "", failed(found, false), 1)
	}
	var out struct{ Attributes item }
	_ = json.Unmarshal(resp, &out)
	var before *shadowItem
	if in.ReturnValues == "ALL_OLD" {
		before = m.found(in.TableName, key, out.Attributes)
	} else {
		before = m.shadow[key]
	}
	after := m.updated(in, before)
	switch in.ReturnValues {
	case "ALL_NEW":
		if len(out.Attributes) > 0 {
			after = m.shadowOf(in.TableName, out.Attributes)
		}
	case "UPDATED_NEW":
		for k, v := range out.Attributes {
			after.attrs[k] = len(k) + valueSize(v)
		}
	}
	m.shadow[key] = after
	return m.charge(kindOfKey(key, after), "", false, false, "", m.write(in.TableName, before, after, false), 1)
}

// updated is before with the update applied: an item that did not exist
// starts from its key.
func (m *capacityMeter) updated(in updateInput, before *shadowItem) *shadowItem {
	start := before
	if start == nil {
		start = m.shadowOf(in.TableName, in.Key)
	}
	return applyUpdate(start, in.UpdateExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, m.keyNames(in.TableName))
}

// keyNames are the index key attributes of table.
func (m *capacityMeter) keyNames(table string) map[string]bool {
	names := map[string]bool{}
	for _, ix := range m.indexes[table] {
		names[ix.pk], names[ix.sk] = true, true
	}
	return names
}

func (m *capacityMeter) deleteItem(req, resp []byte, cond bool) Capacity {
	var in struct {
		TableName string
		Key       item
	}
	_ = json.Unmarshal(req, &in)
	key := keyOf(in.TableName, in.Key)
	if cond {
		var f condFailure
		_ = json.Unmarshal(resp, &f)
		found := m.found(in.TableName, key, f.Item)
		return m.charge(kindOfKey(key, found), "", false, true, "", failed(found, false), 1)
	}
	var out struct{ Attributes item }
	_ = json.Unmarshal(resp, &out)
	before := m.found(in.TableName, key, out.Attributes)
	delete(m.shadow, key)
	return m.charge(kindOfKey(key, before), "", false, false, "", m.write(in.TableName, before, nil, false), 1)
}

type writeRequest struct {
	PutRequest    *struct{ Item item }
	DeleteRequest *struct{ Key item }
}

func (w writeRequest) key(table string) string {
	if w.PutRequest != nil {
		return keyOf(table, w.PutRequest.Item)
	}
	if w.DeleteRequest != nil {
		return keyOf(table, w.DeleteRequest.Key)
	}
	return ""
}

func (m *capacityMeter) batchWrite(req, resp []byte) Capacity {
	var in struct{ RequestItems map[string][]writeRequest }
	var out struct{ UnprocessedItems map[string][]writeRequest }
	_ = json.Unmarshal(req, &in)
	_ = json.Unmarshal(resp, &out)
	var c Capacity
	for table, ws := range in.RequestItems {
		unprocessed := map[string]bool{}
		for _, w := range out.UnprocessedItems[table] {
			unprocessed[w.key(table)] = true
		}
		for _, w := range ws {
			key := w.key(table)
			if unprocessed[key] {
				continue
			}
			before := m.shadow[key]
			var after *shadowItem
			action, kind := ".Delete", kindOfKey(key, before)
			if w.PutRequest != nil {
				after = m.shadowOf(table, w.PutRequest.Item)
				m.shadow[key] = after
				action, kind = ".Put", kindOfKey(key, after)
			} else {
				delete(m.shadow, key)
			}
			c = c.add(m.charge(kind, action, false, false, "", m.write(table, before, after, false), 1))
		}
	}
	return c
}

type transactWriteItem struct {
	Put    *putInput
	Update *updateInput
	Delete *struct {
		TableName string
		Key       item
	}
	ConditionCheck *struct {
		TableName string
		Key       item
	}
}

// action names the action: ".Put", ".Update", ".Delete", ".ConditionCheck".
func (t transactWriteItem) action() string {
	switch {
	case t.Put != nil:
		return ".Put"
	case t.Update != nil:
		return ".Update"
	case t.Delete != nil:
		return ".Delete"
	case t.ConditionCheck != nil:
		return ".ConditionCheck"
	}
	return ""
}

// target is the table and shadow key the action writes.
func (t transactWriteItem) target() (table, key string) {
	switch {
	case t.Put != nil:
		return t.Put.TableName, keyOf(t.Put.TableName, t.Put.Item)
	case t.Update != nil:
		return t.Update.TableName, keyOf(t.Update.TableName, t.Update.Key)
	case t.Delete != nil:
		return t.Delete.TableName, keyOf(t.Delete.TableName, t.Delete.Key)
	case t.ConditionCheck != nil:
		return t.ConditionCheck.TableName, keyOf(t.ConditionCheck.TableName, t.ConditionCheck.Key)
	}
	return "", ""
}

func (m *capacityMeter) transactWrite(req, resp []byte, ok bool) Capacity {
	var in struct{ TransactItems []transactWriteItem }
	_ = json.Unmarshal(req, &in)
	var c Capacity
	if !ok {
		// Cancelled: each write counted once, transactional, on the item it
		// found (the reasons carry it when the write asked for ALL_OLD).
		var out struct {
			CancellationReasons []struct {
				Code string
				Item item
			}
		}
		_ = json.Unmarshal(resp, &out)
		for i, t := range in.TransactItems {
			table, key := t.target()
			var answered item
			if i < len(out.CancellationReasons) {
				answered = out.CancellationReasons[i].Item
			}
			found := m.found(table, key, answered)
			kind := kindOfKey(key, found)
			if t.Put != nil {
				found = maxItem(found, m.shadowOf(table, t.Put.Item))
				kind = kindOfItem(t.Put.Item)
			}
			c = c.add(m.charge(kind, t.action(), true, true, "", failed(found, true), 1))
		}
		return c
	}
	for _, t := range in.TransactItems {
		table, key := t.target()
		before := m.shadow[key]
		charge := func(s *shadowItem, u Capacity) {
			c = c.add(m.charge(kindOfKey(key, s), t.action(), true, false, "", u, 1))
		}
		switch {
		case t.Put != nil:
			after := m.shadowOf(table, t.Put.Item)
			m.shadow[key] = after
			charge(after, m.write(table, before, after, true))
		case t.Update != nil:
			after := m.updated(*t.Update, before)
			m.shadow[key] = after
			charge(after, m.write(table, before, after, true))
		case t.Delete != nil:
			delete(m.shadow, key)
			charge(before, m.write(table, before, nil, true))
		case t.ConditionCheck != nil:
			// Counted as a transactional write of the item it checks.
			charge(before, Capacity{Write: writeUnits(before.size(), true)})
		}
	}
	return c
}

func maxItem(a, b *shadowItem) *shadowItem {
	if a.size() >= b.size() {
		return a
	}
	return b
}
