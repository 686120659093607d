package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/sfsync/sfsync/shared/budget"
)

// ParseTeamSettings reads a whole team settings document from JSON. Every
// field is required except activity_kinds, whose missing kinds take their
// defaults, and api_budget_percent, held_event_max_days,
// allow_save_on_duplicate_alert, owner, owner_fallback_user_id,
// account_matching, account_fallback, free_mail_domains, time_zone,
// bounce_writeback, optout_writeback and retention_days, which take theirs
// (set explicitly in the result); unknown fields, nulls and wrong types are errors naming
// the field (and, for enumerations, the allowed values). Free-mail domains
// are normalized (NormalizeFreeMailDomains); a time_zone, when given, must
// name a zone ("" is refused: leave it out for the connected user's).
func ParseTeamSettings(data []byte) (TeamSettings, error) {
	obj, err := object(data)
	if err != nil {
		return TeamSettings{}, err
	}
	if err := onlyKnown(obj, "", "sync_as", "sync_mode", "deduplication", "activity_tracking", "activity_kinds", "api_budget_percent", "held_event_max_days", "allow_save_on_duplicate_alert",
		"owner", "owner_fallback_user_id", "account_matching", "account_fallback", "free_mail_domains", "time_zone",
		"bounce_writeback", "optout_writeback", "retention_days"); err != nil {
		return TeamSettings{}, err
	}
	var s TeamSettings
	var v string
	if v, err = enum(obj, "sync_as", syncAsValues); err != nil {
		return TeamSettings{}, err
	}
	s.SyncAs = SyncAs(v)
	if v, err = enum(obj, "sync_mode", syncModeValues); err != nil {
		return TeamSettings{}, err
	}
	s.SyncMode = SyncMode(v)
	if s.Deduplication, err = boolean(obj, "deduplication", "deduplication"); err != nil {
		return TeamSettings{}, err
	}
	if s.ActivityTracking, err = boolean(obj, "activity_tracking", "activity_tracking"); err != nil {
		return TeamSettings{}, err
	}
	s.ActivityKinds = DefaultActivityKinds()
	if raw, ok := obj["activity_kinds"]; ok {
		kinds, err := object(raw)
		if err != nil {
			return TeamSettings{}, invalid("activity_kinds", "must be an object of booleans keyed by kind (%s)", oneOfList(kindNames()))
		}
		if err := onlyKnown(kinds, "activity_kinds.", kindNames()...); err != nil {
			return TeamSettings{}, err
		}
		for name := range kinds {
			on, err := boolean(kinds, name, "activity_kinds."+name)
			if err != nil {
				return TeamSettings{}, err
			}
			s.ActivityKinds[ActivityKind(name)] = on
		}
	}
	s.APIBudgetPercent = budget.DefaultPercent
	if raw, ok := obj["api_budget_percent"]; ok {
		if s.APIBudgetPercent, err = percent(raw, "api_budget_percent"); err != nil {
			return TeamSettings{}, err
		}
	}
	s.HeldEventMaxDays = DefaultHeldDays
	if raw, ok := obj["held_event_max_days"]; ok {
		if s.HeldEventMaxDays, err = wholeNumber(raw, "held_event_max_days", validHeldDays, heldDaysProblem); err != nil {
			return TeamSettings{}, err
		}
	}
	if _, ok := obj["allow_save_on_duplicate_alert"]; ok {
		if s.AllowSaveOnDuplicateAlert, err = boolean(obj, "allow_save_on_duplicate_alert", "allow_save_on_duplicate_alert"); err != nil {
			return TeamSettings{}, err
		}
	}
	if err := parseAttribution(obj, &s); err != nil {
		return TeamSettings{}, err
	}
	if err := parseLifecycle(obj, &s); err != nil {
		return TeamSettings{}, err
	}
	return s, s.Validate()
}

// parseAttribution reads the optional settings of R10 into s, each absent
// one as its default.
func parseAttribution(obj map[string]json.RawMessage, s *TeamSettings) error {
	var err error
	for _, f := range []struct {
		name   string
		values []string
		def    string
		dst    *string
	}{
		{"owner", ownerValues, string(OwnerRep), (*string)(&s.Owner)},
		{"account_matching", accountMatchingValues, string(AccountMatchDomain), (*string)(&s.AccountMatching)},
		{"account_fallback", accountFallbackValues, string(AccountFallbackCreate), (*string)(&s.AccountFallback)},
	} {
		*f.dst = f.def
		if _, ok := obj[f.name]; ok {
			if *f.dst, err = enum(obj, f.name, f.values); err != nil {
				return err
			}
		}
	}
	if raw, ok := obj["owner_fallback_user_id"]; ok {
		if s.OwnerFallbackUserID, err = str(raw, "owner_fallback_user_id", userIDProblem); err != nil {
			return err
		}
	}
	if raw, ok := obj["free_mail_domains"]; ok {
		if s.FreeMailDomains, err = domains(raw); err != nil {
			return err
		}
	}
	if raw, ok := obj["time_zone"]; ok {
		if s.TimeZone, err = str(raw, "time_zone", "must be an IANA time zone name such as Europe/Paris"); err != nil {
			return err
		}
		return CheckTimeZone(s.TimeZone)
	}
	return nil
}

// str reads a JSON string; anything else (null included) is problem.
func str(raw json.RawMessage, field, problem string) (string, error) {
	var v string
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, &v) != nil {
		return "", invalid(field, "%s", problem)
	}
	return v, nil
}

// domains reads free_mail_domains: an array of strings, normalized.
func domains(raw json.RawMessage) ([]string, error) {
	const problem = "must be an array of domain names, such as [\"mail.example\"]"
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, invalid("free_mail_domains", problem)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid("free_mail_domains", problem)
	}
	if len(items) > MaxFreeMailDomains {
		return nil, invalid("free_mail_domains", "%d domains exceeds the limit of %d", len(items), MaxFreeMailDomains)
	}
	list := make([]string, len(items))
	for i, item := range items {
		var err error
		if list[i], err = str(item, fmt.Sprintf("free_mail_domains[%d]", i), "must be a domain name (a string)"); err != nil {
			return nil, err
		}
	}
	return NormalizeFreeMailDomains(list)
}

// percent reads a whole number from 1 to 100.
func percent(raw json.RawMessage, field string) (int, error) {
	return wholeNumber(raw, field, budget.ValidPercent, "must be a whole number from 1 to 100")
}

// wholeNumber reads a whole number that valid accepts; problem says which.
func wholeNumber(raw json.RawMessage, field string, valid func(int) bool, problem string) (int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, invalid(field, "%s", problem)
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return 0, invalid(field, "%s", problem)
	}
	v, err := n.Int64()
	if err != nil || v < math.MinInt32 || v > math.MaxInt32 || !valid(int(v)) {
		return 0, invalid(field, "%s", problem)
	}
	return int(v), nil
}

// ParseSequenceOverride reads a whole sequence override document from JSON,
// with the same rules as ParseTeamSettings; every field is required.
func ParseSequenceOverride(data []byte) (SequenceOverride, error) {
	obj, err := object(data)
	if err != nil {
		return SequenceOverride{}, err
	}
	if err := onlyKnown(obj, "", "sync_mode", "sync_as", "sync_disabled"); err != nil {
		return SequenceOverride{}, err
	}
	var o SequenceOverride
	if o.SyncMode, err = enum(obj, "sync_mode", append([]string{Inherit}, syncModeValues...)); err != nil {
		return SequenceOverride{}, err
	}
	if o.SyncAs, err = enum(obj, "sync_as", append([]string{Inherit}, syncAsValues...)); err != nil {
		return SequenceOverride{}, err
	}
	if o.SyncDisabled, err = boolean(obj, "sync_disabled", "sync_disabled"); err != nil {
		return SequenceOverride{}, err
	}
	return o, o.Validate()
}

func oneOfList(v []string) string {
	var b bytes.Buffer
	for i, s := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s)
	}
	return b.String()
}

// object decodes a JSON object keeping its members raw. Duplicate keys are
// rejected: which of two values would win is not something to guess.
func object(data []byte) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, invalid("body", "must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil {
		return nil, invalid("body", "not valid JSON")
	}
	obj := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid("body", "not valid JSON")
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, invalid("body", "not valid JSON")
		}
		if _, dup := obj[key]; dup {
			return nil, invalid(key, "appears more than once")
		}
		obj[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalid("body", "not valid JSON")
	}
	if dec.More() {
		return nil, invalid("body", "must hold exactly one JSON value")
	}
	return obj, nil
}

func onlyKnown(obj map[string]json.RawMessage, prefix string, known ...string) error {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return invalid(prefix+k, "unknown field; known fields are %s", oneOfList(known))
		}
	}
	return nil
}

func enum(obj map[string]json.RawMessage, field string, allowed []string) (string, error) {
	raw, ok := obj[field]
	if !ok {
		return "", invalid(field, "is required; %s", oneOf(allowed))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || !slices.Contains(allowed, s) {
		return "", invalid(field, "%s", oneOf(allowed))
	}
	return s, nil
}

func boolean(obj map[string]json.RawMessage, key, field string) (bool, error) {
	raw, ok := obj[key]
	if !ok {
		return false, invalid(field, "is required; must be true or false")
	}
	switch string(bytes.TrimSpace(raw)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid(field, "must be true or false")
}
