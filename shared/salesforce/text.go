package salesforce

import "unicode/utf16"

// TextLength is the length of s as Salesforce counts text: in UTF-16 code
// units, so a character outside the Basic Multilingual Plane (most emoji)
// counts 2 (help.salesforce.com article 005166849). Field lengths in
// describe (Subject's 255, Description's 32,000) are in these units.
// Invalid UTF-8 counts one unit per bad byte, as it is sent as U+FFFD.
func TextLength(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// TextPrefix returns the byte length of the longest prefix of s that holds
// at most max UTF-16 units without splitting a character.
func TextPrefix(s string, max int) int {
	n := 0
	for i, r := range s {
		if n += utf16.RuneLen(r); n > max {
			return i
		}
	}
	return len(s)
}
