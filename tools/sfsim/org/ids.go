package org

import (
	"fmt"
	"strings"
)

// Salesforce key prefixes of the objects the simulator serves.
var keyPrefixes = map[string]string{
	"Account": "001",
	"Contact": "003",
	"User":    "005",
	"Lead":    "00Q",
	"Task":    "00T",
	"Org":     "00D",
	"Group":   "00G",
	"Cursor":  "01g",

	"TaskStatus":              "01J",
	"PermissionSet":           "0PS",
	"PermissionSetAssignment": "0Pa",
	"ObjectPermissions":       "110",
	"DuplicateRule":           "0Bm",
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// checksumSuffix computes the three-character suffix that turns a 15-character,
// case-sensitive Salesforce id into its 18-character, case-insensitive form: each
// 5-character chunk contributes a 5-bit mask of which positions are upper-case letters.
func checksumSuffix(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var b strings.Builder
	for chunk := 0; chunk < 3; chunk++ {
		mask := 0
		for i := 0; i < 5; i++ {
			c := id15[chunk*5+i]
			if c >= 'A' && c <= 'Z' {
				mask |= 1 << i
			}
		}
		b.WriteByte(alphabet[mask])
	}
	return b.String()
}

// makeID builds an 18-character id from a key prefix, a 2-character pod marker and a
// sequence number.
func makeID(prefix, pod string, seq uint64) string {
	body := make([]byte, 10)
	for i := len(body) - 1; i >= 0; i-- {
		body[i] = base62[seq%62]
		seq /= 62
	}
	id15 := prefix + pod + string(body)
	return id15 + checksumSuffix(id15)
}

func isIDChar(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

// canonicalID returns the 18-character form of a 15- or 18-character id, recovering
// the case of an 18-character id from its suffix as Salesforce does. ok is false when
// s is not shaped like an id.
func canonicalID(s string) (string, bool) {
	if len(s) != 15 && len(s) != 18 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return "", false
		}
	}
	if len(s) == 15 {
		return s + checksumSuffix(s), true
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	body := []byte(s[:15])
	for chunk := 0; chunk < 3; chunk++ {
		mask := strings.IndexByte(alphabet, upper(s[15+chunk]))
		if mask < 0 {
			return "", false
		}
		for i := 0; i < 5; i++ {
			c := body[chunk*5+i]
			if mask&(1<<i) != 0 {
				body[chunk*5+i] = upper(c)
			} else if c >= 'A' && c <= 'Z' {
				body[chunk*5+i] = c + ('a' - 'A')
			}
		}
	}
	id15 := string(body)
	return id15 + checksumSuffix(id15), true
}

// strictID reads a record's own id (an sObject Collections update's id, a
// collection delete's ids) as Salesforce checks it: 15 characters, or 18
// whose last three encode the case of the first 15 exactly. An id whose case
// was changed is malformed there, while canonicalID recovers it.
func strictID(s string) (string, bool) {
	id, ok := canonicalID(s)
	if !ok || len(s) == 18 && id != s {
		return "", false
	}
	return id, true
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// objectForID names the object an id belongs to by its key prefix.
func objectForID(id string) string {
	if len(id) < 3 {
		return ""
	}
	for obj, p := range keyPrefixes {
		if id[:3] == p {
			return obj
		}
	}
	return ""
}

func mustPrefix(object string) string {
	p, ok := keyPrefixes[object]
	if !ok {
		panic(fmt.Sprintf("sfsim: no key prefix for %s", object))
	}
	return p
}
