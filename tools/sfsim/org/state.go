package org

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// persisted is the state file's shape.
type persisted struct {
	Records      map[string]map[string]map[string]any `json:"records"`
	Deleted      map[string]string                    `json:"deleted"`
	Seq          uint64                               `json:"seq"`
	Access       map[string]*accessToken              `json:"accessTokens"`
	Refresh      map[string]*refreshToken             `json:"refreshTokens"`
	Used         int                                  `json:"apiUsed"`
	Limit        int                                  `json:"apiLimit"`
	ByKey        map[string]int                       `json:"apiByEndpoint"`
	DupRules     map[string]DuplicateRule             `json:"duplicateRules"`
	CustomFields map[string][]CustomField             `json:"customFields"`
}

// saveAfterChangeLocked writes the state file when one is configured.
func (o *Org) saveAfterChangeLocked() {
	if o.cfg.StateFile == "" {
		return
	}
	if err := o.saveStateLocked(); err != nil {
		o.log.Error("sfsim save state", "file", o.cfg.StateFile, "err", err)
	}
}

func (o *Org) saveStateLocked() error {
	p := persisted{Records: o.records, Deleted: o.deleted, Seq: o.seq, Access: o.access, Refresh: o.refresh,
		Used: o.used, Limit: o.limit, ByKey: o.byKey, DupRules: o.dupRules, CustomFields: map[string][]CustomField{}}
	for name, s := range o.objects {
		for _, f := range s.fields {
			if f.Custom {
				p.CustomFields[name] = append(p.CustomFields[name], customOf(f))
			}
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(o.cfg.StateFile), ".sfsim-state-*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), o.cfg.StateFile); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// customOf turns a custom Field back into its declaration.
func customOf(f *Field) CustomField {
	cf := CustomField{Name: f.Name, Label: f.Label, Length: f.Length, Required: !f.Nillable && f.Type != TypeBoolean,
		ExternalID: f.ExternalID, Unique: f.Unique, Restricted: f.Restricted, Precision: f.Precision, Scale: f.Scale}
	switch f.Type {
	case TypeString:
		cf.Type = "text"
	case TypeTextArea:
		cf.Type = "textarea"
	case TypeEmail:
		cf.Type, cf.Length = "email", 0
	case TypePhone:
		cf.Type, cf.Length = "phone", 0
	case TypeURL:
		cf.Type, cf.Length = "url", 0
	case TypePicklist:
		cf.Type, cf.Length = "picklist", 0
		for _, v := range f.Picklist {
			cf.Values = append(cf.Values, v.Value)
			if v.DefaultValue {
				cf.Default = v.Value
			}
		}
	case TypeDouble:
		cf.Type = "number"
	case TypeBoolean:
		cf.Type = "checkbox"
	case TypeDate:
		cf.Type = "date"
	case TypeDateTime:
		cf.Type = "datetime"
	}
	return cf
}

// loadState restores the org from the state file, if it exists.
func (o *Org) loadState(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state file: %w", err)
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("parse state file %s: %w", path, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for obj, cfs := range p.CustomFields {
		s, ok := o.objects[obj]
		if !ok {
			return fmt.Errorf("state file %s: customFields.%s: unknown object", path, obj)
		}
		for _, cf := range cfs {
			if _, exists := s.field(cf.Name); exists {
				continue
			}
			f, err := cf.field()
			if err != nil {
				return fmt.Errorf("state file %s: customFields.%s: %w", path, obj, err)
			}
			s.add(f)
		}
	}
	for obj, recs := range p.Records {
		if _, ok := o.records[obj]; !ok {
			return fmt.Errorf("state file %s: records.%s: unknown object", path, obj)
		}
		for id, rec := range recs {
			for k, v := range rec {
				if n, ok := v.(float64); ok {
					rec[k] = n
				}
			}
			o.records[obj][id] = rec
		}
	}
	if p.Deleted != nil {
		o.deleted = p.Deleted
	}
	o.seq = p.Seq
	if p.Access != nil {
		o.access = p.Access
	}
	if p.Refresh != nil {
		o.refresh = p.Refresh
	}
	o.used = p.Used
	if p.Limit > 0 {
		o.limit = p.Limit
	}
	if p.ByKey != nil {
		o.byKey = p.ByKey
	}
	if p.DupRules != nil {
		o.dupRules = p.DupRules
	}
	return nil
}
