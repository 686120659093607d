package readinessorg

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/readiness"
	"github.com/sfsync/sfsync/shared/salesforce"
)

func TestRefusedSortsACallsError(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode string // the refusal's code; "" for none
		wantErr  error  // matched by the error returned; nil for none
	}{
		{"answered", nil, "", nil},
		{"budget spent", fmt.Errorf("composite of 7: team t: %w", budget.ErrCapped), readiness.CodeBudget, nil},
		{"edition without API", fmt.Errorf("composite of 7: %w", &salesforce.APIError{StatusCode: 403, Code: "API_DISABLED_FOR_ORG", Message: "API is not enabled for this Organization or Partner"}), "API_DISABLED_FOR_ORG", nil},
		{"user without API Enabled", &salesforce.APIError{StatusCode: 403, Code: "API_CURRENTLY_DISABLED", Message: "API is disabled for this User"}, "API_CURRENTLY_DISABLED", nil},
		{"org out of calls", &salesforce.APIError{StatusCode: 403, Code: salesforce.CodeRequestLimitExceeded}, salesforce.CodeRequestLimitExceeded, nil},
		{"server down", &salesforce.APIError{StatusCode: 503, Code: salesforce.CodeServerUnavailable}, "", salesforce.ErrTransient},
		{"lost connection", fmt.Errorf("POST x: %w: EOF", salesforce.ErrTransient), "", salesforce.ErrTransient},
		{"refresh refused", fmt.Errorf("refresh: %w", connection.ErrNeedsReauth), "", connection.ErrNeedsReauth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := refused(tt.err)
			code := ""
			if r != nil {
				code = r.Code
			}
			if code != tt.wantCode {
				t.Errorf("refusal: got %q; want %q", code, tt.wantCode)
			}
			if (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("error: got %v; want %v", err, tt.wantErr)
			}
		})
	}
}

func sub(ref string, status int, body string) salesforce.CompositeSubresponse {
	return salesforce.CompositeSubresponse{ReferenceID: ref, HTTPStatusCode: status, Body: json.RawMessage(body)}
}

// TestAnswersAreReadByReference gives the first call's answers out of
// order, one of them refused: each part is read from its own answer.
func TestAnswersAreReadByReference(t *testing.T) {
	answers := byReference([]salesforce.CompositeSubresponse{
		sub(refSharing, 200, `{"totalSize":1,"done":true,"records":[{"DefaultLeadAccess":"None","DefaultContactAccess":"Read","DefaultAccountAccess":"Edit"}]}`),
		sub(refDuplicates, 400, `[{"errorCode":"INVALID_TYPE","message":"sObject type 'DuplicateRule' is not supported."}]`),
		sub(refStatuses, 200, `{"totalSize":2,"done":true,"records":[{"ApiName":"Open","MasterLabel":"Open","IsClosed":false,"IsDefault":true},{"ApiName":"Completed","MasterLabel":"Done","IsClosed":true,"IsDefault":false}]}`),
		sub(refObjects, 200, `{"sobjects":[{"name":"Lead","createable":true},{"name":"Task","createable":false}]}`),
		sub(refLead, 200, `{"name":"Lead","fields":[{"name":"LastName","type":"string","createable":true}]}`),
	})
	if sh := sharing(answers[refSharing]); !sh.Read() || sh.Value.Lead != "None" || sh.Value.Contact != "Read" {
		t.Errorf("sharing: got %+v; want Lead None, Contact Read", sh)
	}
	if d := duplicateRules(answers[refDuplicates]); d.Read() || d.Problem != "Salesforce answered 400 INVALID_TYPE: sObject type 'DuplicateRule' is not supported." {
		t.Errorf("duplicate rules: got %+v; want unread with Salesforce's answer", d)
	}
	if ts := taskStatuses(answers[refStatuses]); !ts.Read() || len(ts.Value) != 2 || !ts.Value[1].Closed || ts.Value[1].Label != "Done" || ts.Value[1].APIName != "Completed" {
		t.Errorf("task statuses: got %+v; want Open and Completed labeled Done (closed)", ts)
	}
	if c := createable(answers[refObjects]); !c.Read() || !c.Value["Lead"] || c.Value["Task"] {
		t.Errorf("createable: got %+v; want Lead only", c)
	}
	if d := describeOf(answers[refLead]); !d.Read() || d.Value.Name != "Lead" {
		t.Errorf("lead describe: got %+v", d)
	}
	if d := describeOf(answers[refContact]); d.Read() || d.Problem != "Salesforce sent no answer to it" {
		t.Errorf("contact describe with no answer: got %+v; want unread", d)
	}
}
