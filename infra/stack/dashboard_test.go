package stack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/infra/stack"
	"github.com/sfsync/sfsync/shared/platform/metrics"
	"github.com/sfsync/sfsync/shared/resources"
)

// bodyText is a dashboard's DashboardBody as the text CloudFormation
// substitutes, its references written as Fn::Sub writes them: ${Id} for a
// Ref, ${Id.Attribute} for a GetAtt. The CDK joins strings and references
// (Fn::Join); the SAM template writes the text (Fn::Sub).
func bodyText(t *testing.T, body any) string {
	t.Helper()
	if s, ok := body.(string); ok {
		return s
	}
	if sub, ok := asMap(body)["Fn::Sub"].(string); ok {
		return sub
	}
	join := asSlice(asMap(body)["Fn::Join"])
	if len(join) != 2 || join[0] != "" {
		t.Fatalf("DashboardBody: got %v; want a string, Fn::Sub or Fn::Join of \"\"", jsonText(body))
	}
	var b strings.Builder
	for _, part := range asSlice(join[1]) {
		switch p := part.(type) {
		case string:
			b.WriteString(p)
		case map[string]any:
			if r, ok := p["Ref"].(string); ok {
				b.WriteString("${" + r + "}")
				continue
			}
			if ga := strs(p["Fn::GetAtt"]); len(ga) == 2 {
				b.WriteString("${" + ga[0] + "." + ga[1] + "}")
				continue
			}
			t.Fatalf("DashboardBody: got part %v; want a string, Ref or GetAtt", jsonText(p))
		default:
			t.Fatalf("DashboardBody: got part %v; want a string, Ref or GetAtt", jsonText(p))
		}
	}
	return b.String()
}

// dashboard is a template's one dashboard: its properties and its body,
// parsed.
type dashboard struct {
	props map[string]any
	text  string
	body  struct {
		Widgets []widget `json:"widgets"`
	}
}

type widget struct {
	Type       string `json:"type"`
	Properties struct {
		Title   string  `json:"title"`
		Metrics [][]any `json:"metrics"`
	} `json:"properties"`
}

// theDashboard is tmpl's dashboard; the test fails unless there is
// exactly one.
func theDashboard(t *testing.T, tmpl cfn, side string) dashboard {
	t.Helper()
	ids := tmpl.ofType("AWS::CloudWatch::Dashboard")
	if len(ids) != 1 || ids[0] != stack.DashboardLogicalID {
		t.Fatalf("%s dashboards: got %v; want exactly one, %s", side, ids, stack.DashboardLogicalID)
	}
	d := dashboard{props: tmpl.props(t, ids[0])}
	d.text = bodyText(t, d.props["DashboardBody"])
	if err := json.Unmarshal([]byte(d.text), &d.body); err != nil {
		t.Fatalf("%s DashboardBody: not JSON: %v\n%s", side, err, d.text)
	}
	return d
}

// shown is one line of a graph: a metric, or a search over metrics.
type shown struct {
	namespace, name string
	dims            []string // the dimension names (and, for a metric, their values: name=value)
	stat            string
	search          bool
}

func (s shown) String() string {
	return fmt.Sprintf("%s %s %s %s", s.namespace, s.name, strings.Join(s.dims, ","), s.stat)
}

// searchRE reads a search expression: SEARCH('{Namespace,Dim,...} MetricName="Name"', 'Stat', period).
var searchRE = regexp.MustCompile(`^SEARCH\('\{([^}]*)\} MetricName="([^"]+)"', '([A-Za-z0-9.]+)', \d+\)$`)

// lines are the lines a widget shows, expressions read (SEARCH): a
// dashboard's metric arrays are [namespace, name, dim, value, ..., {opts}]
// or [{expression, ...}].
func (w widget) lines(t *testing.T) []shown {
	t.Helper()
	var out []shown
	for _, m := range w.Properties.Metrics {
		if len(m) == 0 {
			t.Errorf("widget %q: got an empty metric", w.Properties.Title)
			continue
		}
		opts, _ := m[len(m)-1].(map[string]any)
		if e, ok := opts["expression"].(string); ok && len(m) == 1 {
			sm := searchRE.FindStringSubmatch(e)
			if sm == nil {
				t.Errorf("widget %q: got expression %q; want a SEARCH over one metric name", w.Properties.Title, e)
				continue
			}
			schema := strings.Split(sm[1], ",")
			out = append(out, shown{namespace: schema[0], name: sm[2], dims: schema[1:], stat: sm[3], search: true})
			continue
		}
		var s shown
		parts := m
		if opts != nil {
			parts = m[:len(m)-1]
			s.stat, _ = opts["stat"].(string)
		}
		if len(parts) < 2 || len(parts)%2 != 0 {
			t.Errorf("widget %q: got metric %v; want namespace, name and dimension pairs", w.Properties.Title, m)
			continue
		}
		s.namespace, s.name = fmt.Sprint(parts[0]), fmt.Sprint(parts[1])
		for i := 2; i < len(parts); i += 2 {
			s.dims = append(s.dims, fmt.Sprintf("%v=%v", parts[i], parts[i+1]))
		}
		out = append(out, s)
	}
	return out
}

// TestDashboard: each region's stack has exactly one dashboard, named
// after the stack and given as an output; every SFSync metric it shows
// (searches included) is one the functions write (metrics.Written),
// searched under a dimension set they write it with; it shows every
// written metric; every widget has a title.
func TestDashboard(t *testing.T) {
	t.Parallel()
	for _, r := range testRegions {
		tmpl := tmpls[r]
		d := theDashboard(t, tmpl, r)
		if got, want := d.props["DashboardName"], stack.DashboardName(stackInfos[r].name); got != want {
			t.Errorf("%s DashboardName: got %v; want %v", r, got, want)
		}
		if o := asMap(asMap(tmpl["Outputs"])["DashboardUrl"]); !strings.Contains(jsonText(o["Value"]), "#dashboards/dashboard/") ||
			!slices.Contains(refs(o["Value"]), stack.DashboardLogicalID) {
			t.Errorf("%s DashboardUrl output: got %v; want the console address of the dashboard", r, jsonText(o))
		}
		seen := map[string]bool{}
		for _, w := range d.body.Widgets {
			if w.Type == "metric" && strings.TrimSpace(w.Properties.Title) == "" {
				t.Errorf("%s: got a graph without a title: %v", r, w.Properties.Metrics)
			}
			for _, l := range w.lines(t) {
				if l.namespace != metrics.Namespace {
					continue
				}
				seen[l.name] = true
				if !slices.Contains(metrics.Written, l.name) {
					t.Errorf("%s widget %q: got %s; want only metrics the functions write (metrics.Written)", r, w.Properties.Title, l.name)
					continue
				}
				if !l.search || !slices.ContainsFunc(metrics.DimensionSets(l.name), func(set []string) bool {
					return slices.Equal(slices.Sorted(slices.Values(set)), slices.Sorted(slices.Values(l.dims)))
				}) {
					t.Errorf("%s widget %q: got %s searched by %v; want one of the dimension sets it is written with, %v",
						r, w.Properties.Title, l.name, l.dims, metrics.DimensionSets(l.name))
				}
			}
		}
		for _, name := range metrics.Written {
			if !seen[name] {
				t.Errorf("%s: got no graph of %s; want every metric the functions write shown", r, name)
			}
		}
	}
}

// TestDashboardShowsEveryQueueAndFunction: each queue and its
// dead-letter queue has its depth and the age of its oldest message
// graphed, each function its errors, throttles and p50 and p99 duration.
func TestDashboardShowsEveryQueueAndFunction(t *testing.T) {
	t.Parallel()
	d := theDashboard(t, tmpls[region], region)
	got := map[string]bool{}
	for _, w := range d.body.Widgets {
		for _, l := range w.lines(t) {
			got[l.String()] = true
		}
	}
	var want []string
	for _, q := range resources.Queues {
		for _, id := range []string{stack.QueueLogicalID(q.Name), stack.DLQLogicalID(q.Name)} {
			for _, m := range []string{"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"} {
				want = append(want, fmt.Sprintf("AWS/SQS %s QueueName=${%s.QueueName} Maximum", m, id))
			}
		}
	}
	for _, f := range resources.Functions {
		id, _ := stack.FunctionLogicalID(f.Name)
		for _, m := range []string{"Errors Sum", "Throttles Sum", "Duration p50", "Duration p99"} {
			name, stat, _ := strings.Cut(m, " ")
			want = append(want, fmt.Sprintf("AWS/Lambda %s FunctionName=${%s} %s", name, id, stat))
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("dashboard: got no line %q; want one (lines: %v)", w, slices.Sorted(maps.Keys(got)))
		}
	}
}

// canonical is a dashboard body as compact JSON with sorted keys, so two
// bodies compare whatever their layout in the template.
func canonical(t *testing.T, text string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("dashboard body: %v", err)
	}
	return jsonText(v)
}

// TestDashboardSAMParity: template.yaml has the same dashboard, named
// after its stack, with the same widgets showing the same lines; on a
// difference the test prints the CDK's body, to paste into template.yaml
// under DashboardBody: !Sub.
func TestDashboardSAMParity(t *testing.T) {
	t.Parallel()
	sam := loadSAM(t)
	s, c := theDashboard(t, sam, "SAM"), theDashboard(t, tmpls[region], "CDK")
	if got := ref(s.props["DashboardName"]); got != "AWS::StackName" {
		t.Errorf("SAM DashboardName: got %v; want !Ref AWS::StackName (the CDK names it after its stack)", jsonText(s.props["DashboardName"]))
	}
	if !slices.Contains(refs(asMap(asMap(sam["Outputs"])["DashboardUrl"])["Value"]), stack.DashboardLogicalID) &&
		!strings.Contains(jsonText(asMap(asMap(sam["Outputs"])["DashboardUrl"])["Value"]), "${"+stack.DashboardLogicalID+"}") {
		t.Errorf("SAM DashboardUrl output: got %v; want the dashboard's console address", jsonText(asMap(sam["Outputs"])["DashboardUrl"]))
	}
	if len(s.body.Widgets) != len(c.body.Widgets) {
		t.Errorf("widgets: got %d in SAM; want %d as in CDK", len(s.body.Widgets), len(c.body.Widgets))
	}
	for i := range min(len(s.body.Widgets), len(c.body.Widgets)) {
		sw, cw := s.body.Widgets[i], c.body.Widgets[i]
		if sw.Properties.Title != cw.Properties.Title {
			t.Errorf("widget %d: got title %q in SAM; want %q as in CDK", i, sw.Properties.Title, cw.Properties.Title)
		}
		if got, want := fmt.Sprint(sw.lines(t)), fmt.Sprint(cw.lines(t)); got != want {
			t.Errorf("widget %d %q: got lines %s in SAM; want %s as in CDK", i, cw.Properties.Title, got, want)
		}
	}
	if canonical(t, s.text) != canonical(t, c.text) {
		var b bytes.Buffer
		_ = json.Indent(&b, []byte(c.text), "", "  ")
		t.Errorf("SAM DashboardBody: got another body than the CDK's; want the CDK's:\n%s", b.String())
	}
}
