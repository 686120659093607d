package main

// Where the DynamoDB capacity goes: every unit the meter computes
// (capacity.go) is attributed to the item it was spent on, by the item's
// kind (kinds.go), the operation, whether it was spent in a transaction,
// and whether the write was refused by its condition. Index writes stay
// beside the base table's writes of the same item; reads through an index
// name it.

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// kindKey is what units are attributed to.
type kindKey struct {
	Kind string
	// Op is the request's operation; for TransactWriteItems and
	// BatchWriteItem, with the action (".Put", ".Update", ".Delete",
	// ".ConditionCheck").
	Op  string
	Txn bool
	// Refused: a write refused by its condition, or in a cancelled
	// transaction.
	Refused bool
	// Index is the index a Query or Scan read through.
	Index string
}

// kindUse is the units, items and requests of one kindKey.
type kindUse struct {
	Capacity Capacity
	Items    int64
	// Requests is the requests that touched the kind: a request touching
	// two kinds counts once for each.
	Requests int64
}

func (u kindUse) add(o kindUse) kindUse {
	return kindUse{Capacity: u.Capacity.add(o.Capacity), Items: u.Items + o.Items, Requests: u.Requests + o.Requests}
}

// kindUsage is units by kindKey.
type kindUsage map[kindKey]kindUse

// addAll adds o into u.
func (u kindUsage) addAll(o kindUsage) {
	for k, v := range o {
		u[k] = u[k].add(v)
	}
}

// since is u less o, dropping what did not change.
func (u kindUsage) since(o kindUsage) kindUsage {
	d := kindUsage{}
	for k, v := range u {
		w := o[k]
		if diff := (kindUse{Capacity: v.Capacity.sub(w.Capacity), Items: v.Items - w.Items, Requests: v.Requests - w.Requests}); diff != (kindUse{}) {
			d[k] = diff
		}
	}
	return d
}

func (u kindUsage) clone() kindUsage {
	c := make(kindUsage, len(u))
	c.addAll(u)
	return c
}

// KindCapacity is one line of a run's DynamoDB capacity by item kind.
type KindCapacity struct {
	Kind            string  `json:"kind"`
	Op              string  `json:"op"`
	Transactional   bool    `json:"transactional"`
	Refused         bool    `json:"refused,omitempty"`
	Index           string  `json:"index,omitempty"`
	ReadUnits       float64 `json:"read_units"`
	WriteUnits      float64 `json:"write_units"`
	IndexWriteUnits float64 `json:"index_write_units"`
	Requests        int64   `json:"requests"`
	Items           int64   `json:"items"`
}

// list lists u, the most units first (writes, then reads), then by kind
// and op.
func (u kindUsage) list() []KindCapacity {
	out := make([]KindCapacity, 0, len(u))
	for k, v := range u {
		out = append(out, KindCapacity{Kind: k.Kind, Op: k.Op, Transactional: k.Txn, Refused: k.Refused, Index: k.Index,
			ReadUnits: v.Capacity.Read, WriteUnits: v.Capacity.Write, IndexWriteUnits: v.Capacity.IndexWrite, Requests: v.Requests, Items: v.Items})
	}
	slices.SortFunc(out, func(a, b KindCapacity) int {
		return cmp.Or(cmp.Compare(b.WriteUnits+b.IndexWriteUnits, a.WriteUnits+a.IndexWriteUnits), cmp.Compare(b.ReadUnits, a.ReadUnits),
			cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Op, b.Op), cmp.Compare(a.Index, b.Index), boolCmp(a.Transactional, b.Transactional), boolCmp(a.Refused, b.Refused))
	})
	return out
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// printKinds prints where a run's DynamoDB units went: the write units
// (table and index) per 1,000 events by kind, operation and whether in a
// transaction, the largest first, then the read units likewise.
func printKinds(w io.Writer, label string, r *Run) {
	if r == nil || r.Events == 0 || len(r.CapacityByKind) == 0 {
		return
	}
	per := func(v float64) float64 { return v * 1000 / float64(r.Events) }
	perN := func(v int64) float64 { return per(float64(v)) }
	var writes, reads []KindCapacity
	var base, index, read float64
	for _, k := range r.CapacityByKind {
		if k.WriteUnits+k.IndexWriteUnits > 0 {
			writes = append(writes, k)
			base, index = base+k.WriteUnits, index+k.IndexWriteUnits
		}
		if k.ReadUnits > 0 {
			reads = append(reads, k)
			read += k.ReadUnits
		}
	}
	sort.SliceStable(writes, func(i, j int) bool {
		return writes[i].WriteUnits+writes[i].IndexWriteUnits > writes[j].WriteUnits+writes[j].IndexWriteUnits
	})
	sort.SliceStable(reads, func(i, j int) bool { return reads[i].ReadUnits > reads[j].ReadUnits })
	op := func(k KindCapacity) string {
		s := k.Op
		if k.Index != "" {
			s += " (" + k.Index + ")"
		}
		if k.Refused {
			s += ", refused"
		}
		return s
	}
	txn := func(k KindCapacity) string {
		if k.Transactional {
			return "yes"
		}
		return "-"
	}
	fmt.Fprintf(w, "\n%s DynamoDB write units per 1,000 events, by item: %s (%s table + %s index)\n", label,
		fmtUnits(per(base+index)), fmtUnits(per(base)), fmtUnits(per(index)))
	rows := [][]string{{"KIND", "OP", "TXN", "TABLE", "INDEX", "TOTAL", "ITEMS", "REQUESTS"}}
	for _, k := range writes {
		rows = append(rows, []string{k.Kind, op(k), txn(k), fmtUnits(per(k.WriteUnits)), fmtUnits(per(k.IndexWriteUnits)),
			fmtUnits(per(k.WriteUnits + k.IndexWriteUnits)), fmtUnits(perN(k.Items)), fmtUnits(perN(k.Requests))})
	}
	printColumns(w, rows, 3)
	fmt.Fprintf(w, "%s DynamoDB read units per 1,000 events, by item: %s\n", label, fmtUnits(per(read)))
	rows = [][]string{{"KIND", "OP", "TXN", "READ", "ITEMS", "REQUESTS"}}
	for _, k := range reads {
		rows = append(rows, []string{k.Kind, op(k), txn(k), fmtUnits(per(k.ReadUnits)), fmtUnits(perN(k.Items)), fmtUnits(perN(k.Requests))})
	}
	printColumns(w, rows, 3)
}

// printColumns prints rows as columns two spaces apart, indented by two:
// the first text columns to the left, the rest (figures) to the right.
func printColumns(w io.Writer, rows [][]string, text int) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString("  ")
			pad := strings.Repeat(" ", width[i]-len(c))
			if i < text {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// fmtUnits is a figure with thousands separated and at most one decimal.
func fmtUnits(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	whole, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}
