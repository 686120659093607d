package org

import (
	"strings"
	"testing"
)

// Real 18-character ids, each published beside its 15-character form, and
// each re-checked by hand against the documented algorithm (five characters a
// chunk, bit i set when character i is an upper-case letter, the mask indexing
// A-Z then 0-5). The sources are the Salesforce documentation examples kept in
// testdata/fixtures and public write-ups of the conversion.
var knownIDs = []struct {
	id18, source string
}{
	{"001R00000033I6AIAU", "composite_response.json (REST API guide, composite example)"},
	{"00Q5f000004KdBeEAK", "create_result.json / duplicates_detected.json"},
	{"003RO0000035WQgYAM", "query_result.json (REST API guide, query example)"},
	{"a0D30000001n7PiEAI", "gammone.com, how to convert a Salesforce id from 15 to 18 chars"},
	{"0019000000B98deAAB", "theblogreaders.com, 15 vs 18 digit Salesforce ids"},
	{"70130000001tcyIAAQ", "salesforce_id_formatter gem README"},
	{"003G000001SUbc4IAD", "salesforce_id gem README"},
	{"00558000001N0KeAAK", "salesforce_id_converter (PyPI) README"},
	{"a0BA0000000L2ZCMA0", "a public Python id18 doctest"},
}

func TestChecksumSuffixMatchesRealIDs(t *testing.T) {
	t.Parallel()
	for _, tt := range knownIDs {
		id15 := tt.id18[:15]
		if got := id15 + checksumSuffix(id15); got != tt.id18 {
			t.Errorf("18-character form of %s (%s): got %s; want %s", id15, tt.source, got, tt.id18)
		}
	}
}

func TestChecksumSuffixBits(t *testing.T) {
	t.Parallel()
	tests := []struct{ id15, want string }{
		{"000000000000000", "AAA"}, // digits only: no bit set
		{"aaaaabbbbbccccc", "AAA"}, // lower case sets no bit
		{"Aaaaa00000bbbbb", "BAA"}, // first position of a chunk is bit 0
		{"aaaaA00000bbbbb", "QAA"}, // last position is bit 4
		{"AAAAABBBBBCCCCC", "555"}, // all five bits: the 32nd symbol
		{"AaaAABbbBBCccCC", "ZZZ"}, // 1+8+16 = 25
		{"AAaAAbbBBBCcCCC", "123"}, // 27, 28, 29
		{"zzzzzZzzzzzzzzZ", "ABQ"}, // each chunk on its own
		{"00000000000000Z", "AAQ"}, // a trailing upper-case letter
		{"001D000000IqhSL", "IAZ"}, // D at 3; I, S, L at 0, 3, 4
		{"0015000000VALDt", "AAP"}, // the usual 001... Account shape
		{"00Dx0000000BV7z", "EAG"}, // an org id as the token fixtures spell it
		{"005x00000012Q9P", "AAU"}, // a user id from the same fixtures
		{"0019000000b98DE", "AAY"}, // case matters: a different 15-character id
		{"0019000000B98de", "AAB"}, // ... than this one
	}
	for _, tt := range tests {
		if got := checksumSuffix(tt.id15); got != tt.want {
			t.Errorf("checksumSuffix(%s): got %s; want %s", tt.id15, got, tt.want)
		}
	}
}

func TestCanonicalID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		wantOK         bool
	}{
		{"15 characters gain the suffix", "a0D30000001n7Pi", "a0D30000001n7PiEAI", true},
		{"18 characters stay", "a0D30000001n7PiEAI", "a0D30000001n7PiEAI", true},
		{"an upper-cased 18-character id recovers its case", "A0D30000001N7PIEAI", "a0D30000001n7PiEAI", true},
		{"a lower-cased 18-character id recovers its case", "a0d30000001n7piEAI", "a0D30000001n7PiEAI", true},
		{"a lower-case suffix is read case-insensitively", "001r00000033i6aiau", "001R00000033I6AIAU", true},
		{"all-digit suffix symbols", "aaaaabbbbbccccc123", "AAaAAbbBBBCcCCC123", true},
		{"too short", "001R00000033I6", "", false},
		{"16 characters", "001R00000033I6AI", "", false},
		{"too long", "001R00000033I6AIAUX", "", false},
		{"punctuation", "001R0000003-I6A", "", false},
		{"quote (SOQL injection shape)", "001R00000'33I6AIAU", "", false},
		{"suffix outside A-Z0-5", "001R00000033I6AIA9", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		got, ok := canonicalID(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: canonicalID(%q): got %q, %v; want %q, %v", tt.name, tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
	// Every known id survives any casing of itself.
	for _, tt := range knownIDs {
		for _, in := range []string{tt.id18, strings.ToUpper(tt.id18), strings.ToLower(tt.id18), tt.id18[:15]} {
			if got, ok := canonicalID(in); !ok || got != tt.id18 {
				t.Errorf("canonicalID(%q): got %q, %v; want %q", in, got, ok, tt.id18)
			}
		}
	}
}

func TestMakeIDIsAValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		object string
		seq    uint64
	}{
		{"Lead", 0}, {"Lead", 1}, {"Contact", 61}, {"Contact", 62}, {"Account", 1 << 40}, {"Task", 839299365868340223}, // 62^10-1
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		id := makeID(mustPrefix(tt.object), "5f", tt.seq)
		if len(id) != 18 || objectForID(id) != tt.object {
			t.Errorf("makeID(%s, %d): got %s (object %q); want 18 characters of %s", tt.object, tt.seq, id, objectForID(id), tt.object)
		}
		if got, ok := canonicalID(strings.ToLower(id)); !ok || got != id {
			t.Errorf("makeID(%s, %d) = %s does not round-trip through its lower-case form: got %s", tt.object, tt.seq, id, got)
		}
		if seen[id] {
			t.Errorf("makeID(%s, %d): %s repeats", tt.object, tt.seq, id)
		}
		seen[id] = true
	}
}
