package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/resources"
)

// hostileBodies are request bodies built to break a JSON API: huge, deeply
// nested, of the wrong type, with unicode tricks. Each must get a 4xx
// naming what is wrong, never a 500.
var hostileBodies = map[string]string{
	"empty":                ``,
	"null":                 `null`,
	"array":                `[]`,
	"string":               `"settings"`,
	"number":               `1e999`,
	"truncated":            `{"sync_as":`,
	"huge":                 `{"x":"` + strings.Repeat("a", 2<<20) + `"}`,
	"deeply nested array":  strings.Repeat("[", 100000) + strings.Repeat("]", 100000),
	"deeply nested object": strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat("}", 20000),
	"wrong types":          `{"sync_as":1,"sync_mode":[],"deduplication":"yes","activity_tracking":{},"fields":"x","emails":5,"environment":true,"all":"yes"}`,
	"nul bytes":            "{\"sync_as\":\"lead\x00\",\"emails\":[\"a\x00@b.c\"]}",
	"byte order mark":      "\xef\xbb\xbf{}",
	"invalid utf-8":        "{\"emails\":[\"\xff\xfe@x.y\"],\"code\":\"\xc3\x28\"}",
	"unicode tricks":       `{"sync_as":"le\u0430d","login_url":"https://login.salesforce.com\u2028@evil.example","emails":["ad\u200ba@example.com"],"contact_ids":["\u202e1"]}`,
	"duplicate keys":       `{"all":true,"all":false}`,
	"trailing data":        `{} {}`,
	"big numbers":          `{"api_budget_percent":99999999999999999999999,"all":true}`,
	"many fields":          `{"fields":[` + strings.TrimSuffix(strings.Repeat(`{"salesforce_field":"LastName","source":{"field":"last_name"}},`, 5000), ",") + `]}`,
}

func TestHostileBodiesGetClientErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, r := range resources.Routes {
		if r.Method != "POST" && r.Method != "PUT" {
			continue
		}
		path := strings.NewReplacer("{sequence_id}", "seq_1", "{object}", "lead", "{contact_id}", "ct_1").Replace(r.Path)
		n := 0
		for name, body := range hostileBodies {
			// A team per body, so that the request limits (10 retries a
			// minute) leave every body to the handler.
			n++
			team := fmt.Sprintf("team_hostile_%d", n)
			t.Run(fmt.Sprintf("%s %s/%s", r.Method, r.Path, name), func(t *testing.T) {
				code, resp := w.call(team, r.Method, path, body, map[string]string{"If-Match": "*"})
				if code >= 500 {
					t.Errorf("got %d %.200s; want a 4xx", code, resp)
				}
				if code < 400 || code == 429 {
					t.Errorf("got %d %.200s; want a 4xx from the handler", code, resp)
				}
			})
		}
	}
}
