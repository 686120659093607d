package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestCountWritesOneEMFLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := &EMF{W: &buf, Now: func() time.Time { return time.UnixMilli(1700000000000) }}
	if err := e.Count(NeedsReauth, "team_acme", 1); err != nil {
		t.Fatal(err)
	}
	var got struct {
		AWS struct {
			Timestamp         int64 `json:"Timestamp"`
			CloudWatchMetrics []struct {
				Namespace  string              `json:"Namespace"`
				Dimensions [][]string          `json:"Dimensions"`
				Metrics    []map[string]string `json:"Metrics"`
			} `json:"CloudWatchMetrics"`
		} `json:"_aws"`
		TeamID      string `json:"TeamId"`
		NeedsReauth int    `json:"NeedsReauth"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("not one JSON object: %v: %s", err, buf.String())
	}
	m := got.AWS.CloudWatchMetrics
	if got.AWS.Timestamp != 1700000000000 || len(m) != 1 || m[0].Namespace != "SFSync" || len(m[0].Dimensions) != 1 ||
		m[0].Dimensions[0][0] != "TeamId" || m[0].Metrics[0]["Name"] != "NeedsReauth" || got.TeamID != "team_acme" || got.NeedsReauth != 1 {
		t.Errorf("got %s; want the EMF line of infra/README.md", buf.String())
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Errorf("got %q; want exactly one line", buf.String())
	}
}
