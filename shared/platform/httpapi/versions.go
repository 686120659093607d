package httpapi

import (
	"net/http"
	"strconv"
	"strings"
)

// AnyVersion is what IfMatch returns for `If-Match: *`: write on top of
// whatever version is current.
const AnyVersion = -1

// ETag is the entity tag of a stored document's version: `"3"`.
func ETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// IfMatch reads the If-Match header of a write to a versioned document: the
// expected version, or AnyVersion for *. It writes the error response and
// returns false when the header is missing (428) or malformed (400). A weak
// tag yields a version that can never match (If-Match compares strongly), so
// the write answers 412.
func IfMatch(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	switch {
	case v == "":
		WriteError(w, http.StatusPreconditionRequired, "precondition_required",
			`If-Match is required: send the ETag of the version you changed (e.g. "3", from a GET), or * to overwrite whatever is current`, "If-Match")
		return 0, false
	case v == "*":
		return AnyVersion, true
	}
	weak := strings.HasPrefix(v, "W/")
	tag := strings.TrimPrefix(v, "W/")
	if len(tag) >= 3 && tag[0] == '"' && tag[len(tag)-1] == '"' {
		if n, err := strconv.Atoi(tag[1 : len(tag)-1]); err == nil && n >= 0 && !strings.HasPrefix(tag[1:], "+") {
			if weak {
				return -2, true
			}
			return n, true
		}
	}
	WriteError(w, http.StatusBadRequest, "invalid_request", `If-Match: must be one entity tag such as "3", or *`, "If-Match")
	return 0, false
}
