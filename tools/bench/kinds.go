package main

// The kinds of item of the stack's tables, told apart by their keys
// (docs/tables.md), for the capacity by kind (bykind.go).

import "strings"

// itemKind names the kind of the item at pk/sk, as docs/tables.md lists
// them. has tells whether the item holds an attribute (nil: only the key is
// known); it parts a RECORD that holds only a claim (no sf_id) from a saved
// record. A key of no listed layout is "other".
func itemKind(pk, sk string, has func(string) bool) string {
	switch {
	case strings.HasPrefix(pk, "STATE#"):
		return "state"
	case strings.HasPrefix(pk, "CONSENTS#"):
		return "consent"
	case strings.HasPrefix(pk, "LIMIT#"):
		return "limit"
	case strings.HasPrefix(pk, "COOLDOWN#"):
		return "cooldown"
	case strings.HasPrefix(pk, "PURGE#"):
		return "purge-cursor"
	}
	rest, ok := strings.CutPrefix(pk, "TEAM#")
	if !ok {
		return "other"
	}
	// Ids never contain "#": the team ends at the first one.
	_, rest, nested := strings.Cut(rest, "#")
	if !nested { // TEAM#<t>: the team's own items, told apart by sk
		for _, k := range []struct{ prefix, kind string }{
			{"MAPPINGCOUNT#", "mapping-count"}, {"MAPPING#", "mapping"}, {"SETTINGS#", "settings"},
			{"DESCRIBE#", "describe"}, {"REP#", "rep"}, {"CONSENT#", "consent"},
			{"HEALTH#", "health-count"}, {"CALLS#", "calls-day"},
		} {
			if strings.HasPrefix(sk, k.prefix) {
				return k.kind
			}
		}
		switch sk {
		case "READINESS":
			return "readiness"
		case "CONNECTION":
			return "connection"
		}
		return "other"
	}
	section, tail, _ := strings.Cut(rest, "#")
	switch section {
	case "SEQ":
		switch {
		case strings.HasPrefix(sk, "MEMBER#"):
			return "member"
		case strings.HasPrefix(sk, "OVERRIDE#"):
			return "override"
		}
	case "EMAIL":
		switch sk {
		case "RECORD":
			switch {
			case strings.HasPrefix(tail, "account:"):
				return "account-claim"
			case has != nil && !has("sf_id"):
				return "claim"
			}
			return "record"
		case "OPTOUT":
			return "optout"
		case "BOUNCE":
			return "bounce"
		}
	case "EVENT": // an outcome written before December 2026
		if sk == "OUTCOME" {
			return "outcome"
		}
	case "ERRORS":
		return "error-entry"
	case "CONTACT":
		switch {
		case sk == "FAILURES":
			return "failures"
		case strings.HasPrefix(sk, "OUTCOME#"):
			return "outcome"
		}
	case "ACTIVITY":
		if sk == "TASK" {
			return "activity"
		}
	case "HELD":
		if tail == "" {
			return "held-list"
		}
		return "held-event"
	case "TASK":
		if sk == "FIELDS" {
			return "task-fields"
		}
	case "ERASURE":
		if sk == "RECEIPT" {
			return "receipt"
		}
	}
	return "other"
}

// kindOfKey is the kind of the item at shadow key key (keyOf), from what s
// (nil: nothing) holds of it.
func kindOfKey(key string, s *shadowItem) string {
	_, rest, _ := strings.Cut(key, "\x00")
	pk, sk, _ := strings.Cut(rest, "\x00")
	var has func(string) bool
	if s != nil {
		has = func(a string) bool { _, ok := s.attrs[a]; return ok }
	}
	return itemKind(strings.TrimPrefix(pk, "S"), strings.TrimPrefix(sk, "S"), has)
}

// kindOfItem is the kind of it, a whole item or a key.
func kindOfItem(it item) string {
	str := func(name string) string {
		if v := it[name]; v.S != nil {
			return *v.S
		}
		return ""
	}
	has := func(a string) bool { _, ok := it[a]; return ok }
	if len(it) <= 2 { // a key: no attributes known
		has = nil
	}
	return itemKind(str("pk"), str("sk"), has)
}
