package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The team settings of the contact's lifecycle: whether bounces and
// opt-outs are written back to the contact's Lead or Contact, and how long
// the service keeps what it knows of a contact. Each reads as its default
// in versions saved before it existed (a nil or zero field); the accessors
// below give the value in force.

// Bounds of retention_days: how long the service keeps a contact's
// memberships and record index entries, its bounce and opt-out marks and
// its held activity after their last change (outcomes expire after 90
// days whatever it says).
const (
	DefaultRetentionDays = 400
	MinRetentionDays     = 30
	MaxRetentionDays     = 3650
)

// BounceWriteback reports whether a bounce's reason and date are written
// back to the contact's Lead or Contact (bounce_writeback; true unless the
// team turned it off).
func (s TeamSettings) BounceWriteback() bool {
	return s.BounceWritebackSetting == nil || *s.BounceWritebackSetting
}

// OptOutWriteback reports whether a contact.unsubscribed is written to the
// HasOptedOutOfEmail of the contact's Lead or Contact (optout_writeback;
// true unless the team turned it off).
func (s TeamSettings) OptOutWriteback() bool {
	return s.OptOutWritebackSetting == nil || *s.OptOutWritebackSetting
}

// SetBounceWriteback sets bounce_writeback.
func (s *TeamSettings) SetBounceWriteback(on bool) { s.BounceWritebackSetting = &on }

// SetOptOutWriteback sets optout_writeback.
func (s *TeamSettings) SetOptOutWriteback(on bool) { s.OptOutWritebackSetting = &on }

// RetainDays is the team's retention_days, the default when unset.
func (s TeamSettings) RetainDays() int {
	if s.RetentionDays == 0 {
		return DefaultRetentionDays
	}
	return s.RetentionDays
}

// Retention is how long the service keeps a contact's memberships, record
// index entry, marks and held activity after their last change
// (outcomes expire after 90 days): retention_days, the
// default (400 days) when unset.
func (s TeamSettings) Retention() time.Duration {
	return time.Duration(s.RetainDays()) * 24 * time.Hour
}

// Clone returns a copy of s that shares nothing with it: activity kinds
// (every known kind present, as ActivityKinds.Clone has them), free-mail
// domains and the write-back switches are copied.
func (s TeamSettings) Clone() TeamSettings {
	s.ActivityKinds = s.ActivityKinds.Clone()
	s.FreeMailDomains = slices.Clone(s.FreeMailDomains)
	s.BounceWritebackSetting = cloneBool(s.BounceWritebackSetting)
	s.OptOutWritebackSetting = cloneBool(s.OptOutWritebackSetting)
	return s
}

func cloneBool(p *bool) *bool {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func validRetentionDays(n int) bool { return n >= MinRetentionDays && n <= MaxRetentionDays }

var retentionDaysProblem = fmt.Sprintf("must be a whole number of days from %d to %d", MinRetentionDays, MaxRetentionDays)

// validateLifecycle checks retention_days as stored (0: the default).
func (s TeamSettings) validateLifecycle() error {
	if s.RetentionDays != 0 && !validRetentionDays(s.RetentionDays) {
		return invalid("retention_days", "%s", retentionDaysProblem)
	}
	return nil
}

// parseLifecycle reads the optional lifecycle settings into s, each absent
// one as its default, set explicitly.
func parseLifecycle(obj map[string]json.RawMessage, s *TeamSettings) error {
	for _, f := range []struct {
		name string
		set  func(bool)
	}{
		{"bounce_writeback", s.SetBounceWriteback},
		{"optout_writeback", s.SetOptOutWriteback},
	} {
		on := true
		if _, ok := obj[f.name]; ok {
			var err error
			if on, err = boolean(obj, f.name, f.name); err != nil {
				return err
			}
		}
		f.set(on)
	}
	s.RetentionDays = DefaultRetentionDays
	if raw, ok := obj["retention_days"]; ok {
		var err error
		if s.RetentionDays, err = wholeNumber(raw, "retention_days", validRetentionDays, retentionDaysProblem); err != nil {
			return err
		}
	}
	return nil
}
