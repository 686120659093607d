package salesforce

import (
	"strconv"
	"strings"
)

// Usage is the org's API usage Salesforce reports in Sforce-Limit-Info.
type Usage struct {
	Used  int `json:"used"`
	Limit int `json:"limit"`
}

// ParseLimitInfo reads the api-usage=N/M part of a Sforce-Limit-Info header,
// ignoring other parts (per-app-api-usage, api-bursts).
func ParseLimitInfo(header string) (Usage, bool) {
	for _, part := range strings.Split(header, ";") {
		part = strings.TrimSpace(part)
		v, ok := strings.CutPrefix(part, "api-usage=")
		if !ok {
			continue
		}
		used, limit, ok := strings.Cut(v, "/")
		if !ok {
			return Usage{}, false
		}
		u, err1 := strconv.Atoi(strings.TrimSpace(used))
		l, err2 := strconv.Atoi(strings.TrimSpace(limit))
		if err1 != nil || err2 != nil || u < 0 || l <= 0 {
			return Usage{}, false
		}
		return Usage{Used: u, Limit: l}, true
	}
	return Usage{}, false
}
