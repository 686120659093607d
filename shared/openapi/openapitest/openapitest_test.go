package openapitest

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, route string
		status              int
		body                string
		wantErr             string // "" for valid
	}{
		{name: "team settings", method: "GET", route: "/v1/salesforce/settings", status: 200,
			body: `{"version":0,"settings":{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":false,"clicked":false,"bounced":true},"api_budget_percent":50,"held_event_max_days":14,"allow_save_on_duplicate_alert":false,"owner":"rep","account_matching":"domain","account_fallback":"create","free_mail_domains":[],"bounce_writeback":true,"optout_writeback":true,"retention_days":400}}`},
		{name: "retention below its least", method: "GET", route: "/v1/salesforce/settings", status: 200,
			body: `{"version":0,"settings":{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":false,"clicked":false,"bounced":true},"api_budget_percent":50,"held_event_max_days":14,"allow_save_on_duplicate_alert":false,"owner":"rep","account_matching":"domain","account_fallback":"create","free_mail_domains":[],"bounce_writeback":true,"optout_writeback":true,"retention_days":29}}`, wantErr: "does not match"},
		{name: "write-back not shown", method: "GET", route: "/v1/salesforce/settings", status: 200,
			body: `{"version":0,"settings":{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":false,"clicked":false,"bounced":true},"api_budget_percent":50,"held_event_max_days":14,"allow_save_on_duplicate_alert":false,"owner":"rep","account_matching":"domain","account_fallback":"create","free_mail_domains":[],"optout_writeback":true,"retention_days":400}}`, wantErr: "does not match"},
		{name: "bad enum", method: "GET", route: "/v1/salesforce/settings", status: 200,
			body: `{"version":0,"settings":{"sync_as":"account","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":false,"clicked":false,"bounced":true},"api_budget_percent":50,"held_event_max_days":14,"allow_save_on_duplicate_alert":false,"owner":"rep","account_matching":"domain","account_fallback":"create","free_mail_domains":[],"bounce_writeback":true,"optout_writeback":true,"retention_days":400}}`, wantErr: "does not match"},
		{name: "extra field", method: "GET", route: "/v1/salesforce/settings", status: 200,
			body: `{"version":0,"team_id":"x","settings":{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":false,"clicked":false,"bounced":true},"api_budget_percent":50,"held_event_max_days":14,"allow_save_on_duplicate_alert":false,"owner":"rep","account_matching":"domain","account_fallback":"create","free_mail_domains":[],"bounce_writeback":true,"optout_writeback":true,"retention_days":400}}`, wantErr: "does not match"},
		{name: "bad date-time", method: "GET", route: "/v1/salesforce/settings", status: 200,
			body: `{"version":1,"effective_at":"yesterday","updated_by":"u","settings":{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":false,"clicked":false,"bounced":true},"api_budget_percent":50,"held_event_max_days":14,"allow_save_on_duplicate_alert":false,"owner":"rep","account_matching":"domain","account_fallback":"create","free_mail_domains":[],"bounce_writeback":true,"optout_writeback":true,"retention_days":400}}`, wantErr: "does not match"},
		{name: "team settings with every R10 setting", method: "GET", route: "/v1/salesforce/settings", status: 200,
			body: `{"version":2,"effective_at":"2026-11-26T10:00:00Z","updated_by":"u","settings":{"sync_as":"contact","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":false,"clicked":false,"bounced":true},"api_budget_percent":50,"held_event_max_days":14,"allow_save_on_duplicate_alert":false,"owner":"fallback_only","owner_fallback_user_id":"0055g00000Ab1Cd","account_matching":"name","account_fallback":"private","free_mail_domains":["proton.me","xn--mnchen-3ya.de"],"time_zone":"Europe/Paris","bounce_writeback":false,"optout_writeback":false,"retention_days":30}}`},
		{name: "settings without the R10 defaults", method: "GET", route: "/v1/salesforce/settings", status: 200,
			body: `{"version":0,"settings":{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":false,"clicked":false,"bounced":true},"api_budget_percent":50,"held_event_max_days":14,"allow_save_on_duplicate_alert":false}}`, wantErr: "does not match"},
		{name: "unknown owner", method: "GET", route: "/v1/salesforce/settings", status: 200,
			body: `{"version":0,"settings":{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":false,"clicked":false,"bounced":true},"api_budget_percent":50,"held_event_max_days":14,"allow_save_on_duplicate_alert":false,"owner":"manager","account_matching":"domain","account_fallback":"create","free_mail_domains":[],"bounce_writeback":true,"optout_writeback":true,"retention_days":400}}`, wantErr: "does not match"},
		{name: "a stored free-mail domain not normalized", method: "GET", route: "/v1/salesforce/settings", status: 200,
			body: `{"version":0,"settings":{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":false,"clicked":false,"bounced":true},"api_budget_percent":50,"held_event_max_days":14,"allow_save_on_duplicate_alert":false,"owner":"rep","account_matching":"domain","account_fallback":"create","free_mail_domains":["www.GMX.net"]}}`, wantErr: "does not match"},
		{name: "a fallback user that is no user id", method: "GET", route: "/v1/salesforce/settings", status: 200,
			body: `{"version":0,"settings":{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":false,"clicked":false,"bounced":true},"api_budget_percent":50,"held_event_max_days":14,"allow_save_on_duplicate_alert":false,"owner":"rep","owner_fallback_user_id":"00Q5g00000KzF3aEAF","account_matching":"domain","account_fallback":"create","free_mail_domains":[],"bounce_writeback":true,"optout_writeback":true,"retention_days":400}}`, wantErr: "does not match"},
		{name: "not connected on a settings save", method: "PUT", route: "/v1/salesforce/settings", status: 409, body: `{"error":{"code":"not_connected","message":"m"}}`},
		{name: "error through a response $ref", method: "PUT", route: "/v1/salesforce/settings", status: 412, body: `{"error":{"code":"version_conflict","message":"m"}}`},
		{name: "error via default", method: "GET", route: "/v1/salesforce/settings", status: 500, body: `{"error":{"code":"internal","message":"m"}}`},
		{name: "malformed error", method: "GET", route: "/v1/salesforce/settings", status: 401, body: `{"message":"m"}`, wantErr: "does not match"},
		{name: "path template", method: "GET", route: "/v1/sequences/{sequence_id}/salesforce/history", status: 200, body: `{"sequence_id":"s","versions":[]}`},
		{name: "no body documented", method: "DELETE", route: "/v1/salesforce", status: 204, body: ``},
		{name: "body where none is documented", method: "DELETE", route: "/v1/salesforce", status: 204, body: `{}`, wantErr: "no body"},
		{name: "undocumented success status", method: "GET", route: "/v1/salesforce/settings", status: 201, body: `{}`, wantErr: "not documented"},
		{name: "undocumented route", method: "GET", route: "/v1/nothing", status: 200, body: `{}`, wantErr: "not in the OpenAPI document"},
		{name: "not JSON", method: "GET", route: "/v1/salesforce", status: 200, body: `<html>`, wantErr: "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Check(tt.method, tt.route, tt.status, []byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v; want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
