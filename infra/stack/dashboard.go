package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/sfsync/sfsync/shared/platform/metrics"
	"github.com/sfsync/sfsync/shared/resources"
)

// DashboardProps configures the operator's dashboard.
type DashboardProps struct {
	// Name is the dashboard's name (DashboardName).
	Name      string
	Queues    *Queues
	Functions *Functions
	// QueueDecls and FunctionDecls give the order of the graphs' lines
	// (resources.Queues, resources.Functions).
	QueueDecls    []resources.Queue
	FunctionDecls []resources.Function
}

// Dashboard is the region's CloudWatch dashboard: what the service does
// (its outcomes, its Salesforce calls, the events it holds), and how its
// queues and functions are doing. infra/README.md ("The dashboard") says
// what each graph means and what to do when it looks wrong; the SAM
// template has the same body.
type Dashboard struct {
	constructs.Construct
	Dashboard awscloudwatch.Dashboard
}

// dashboardPeriod is the period of every graph: counts read per minute.
var dashboardPeriod = awscdk.Duration_Minutes(jsii.Number(1))

// search is a CloudWatch search over the SFSync metrics written with
// exactly dims (the braces match that dimension set alone), summed per
// minute: one line per value of the dimensions.
func search(name string, dims ...string) awscloudwatch.IMetric {
	schema := metrics.Namespace
	for _, d := range dims {
		schema += "," + d
	}
	return awscloudwatch.NewSearchExpression(&awscloudwatch.SearchExpressionProps{
		Expression: jsii.String(fmt.Sprintf(`SEARCH('{%s} MetricName="%s"', 'Sum', 60)`, schema, name)),
		Label:      jsii.String(""), // each line named by its dimensions' values alone
		Period:     dashboardPeriod,
	})
}

// NewDashboard creates the dashboard, its graphs in rows: what the
// service does (outcomes, holds, Salesforce calls, the alarmed holds by
// team), then the queues, then the functions.
func NewDashboard(scope constructs.Construct, id string, props *DashboardProps) (*Dashboard, error) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	graph := func(title string, width float64, stacked bool, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Width: jsii.Number(width), Height: jsii.Number(6),
			Left: &left, Stacked: jsii.Bool(stacked), Period: dashboardPeriod,
			LeftYAxis: &awscloudwatch.YAxisProps{Min: jsii.Number(0), ShowUnits: jsii.Bool(false)},
		})
	}

	intro := awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
		Width: jsii.Number(24), Height: jsii.Number(2),
		Markdown: jsii.String("## sfsync in this region\n" +
			"Counts per minute. What each graph means, and what to do when it looks wrong: " +
			"`infra/README.md`, \"The dashboard\". The alarms are under CloudWatch, Alarms."),
	})
	service := []awscloudwatch.IWidget{
		graph("Outcomes per minute, by status", 12, true, search(metrics.Outcomes, metrics.Status)),
		graph("Outcomes per minute, by status and reason", 12, false, search(metrics.Outcomes, metrics.Status, metrics.Reason)),
		graph("Events held or waiting per minute, by reason", 12, false, search(metrics.HeldEvents, metrics.Reason)),
		graph("Salesforce API calls per minute, by function", 12, true, search(metrics.SalesforceCalls, metrics.Function)),
	}
	var alarmed []awscloudwatch.IWidget
	for _, m := range []struct{ name, title string }{
		{metrics.NeedsReauth, "Held: connection needs a new consent (NeedsReauth), by team"},
		{metrics.NeedsAdmin, "Held: the team's admin must act (NeedsAdmin), by team"},
		{metrics.AppRefused, "Held: Salesforce refuses our connected app (AppRefused), by team"},
		{metrics.BudgetExceeded, "Held: API budget spent (BudgetExceeded), by team"},
	} {
		alarmed = append(alarmed, graph(m.title, 6, false, search(m.name, metrics.TeamID)))
	}

	queueGraph := func(title string, dlq bool, age bool) (awscloudwatch.IWidget, error) {
		var lines []awscloudwatch.IMetric
		for _, decl := range props.QueueDecls {
			q, ok := props.Queues.ByName[decl.Name]
			if !ok {
				return nil, fmt.Errorf("dashboard: queue %q not declared", decl.Name)
			}
			queue, label := q.Main, decl.Name
			if dlq {
				queue, label = q.DLQ, decl.Name+" DLQ"
			}
			opts := &awscloudwatch.MetricOptions{Label: jsii.String(label), Period: dashboardPeriod, Statistic: jsii.String("Maximum")}
			if age {
				lines = append(lines, queue.MetricApproximateAgeOfOldestMessage(opts))
			} else {
				lines = append(lines, queue.MetricApproximateNumberOfMessagesVisible(opts))
			}
		}
		return graph(title, 6, false, lines...), nil
	}
	var queues []awscloudwatch.IWidget
	for _, g := range []struct {
		title    string
		dlq, age bool
	}{
		{"Messages waiting on each queue", false, false},
		{"Age of the oldest message on each queue (seconds)", false, true},
		{"Dead-lettered messages, by queue (want 0)", true, false},
		{"Age of the oldest dead-lettered message (seconds)", true, true},
	} {
		w, err := queueGraph(g.title, g.dlq, g.age)
		if err != nil {
			return nil, err
		}
		queues = append(queues, w)
	}

	var errs, throttles []awscloudwatch.IMetric
	var durations []awscloudwatch.IWidget
	for _, decl := range props.FunctionDecls {
		fn, ok := props.Functions.ByName[decl.Name]
		if !ok {
			return nil, fmt.Errorf("dashboard: function %q not declared", decl.Name)
		}
		sum := &awscloudwatch.MetricOptions{Label: jsii.String(decl.Name), Period: dashboardPeriod, Statistic: jsii.String("Sum")}
		errs = append(errs, fn.MetricErrors(sum))
		throttles = append(throttles, fn.MetricThrottles(sum))
		timeout := decl.Timeout.Milliseconds()
		durations = append(durations, awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(fmt.Sprintf("Duration of %s, p50 and p99 (ms; timeout %d s)", decl.Name, timeout/1000)),
			Width: jsii.Number(8), Height: jsii.Number(6), Period: dashboardPeriod,
			Left: &[]awscloudwatch.IMetric{
				fn.MetricDuration(&awscloudwatch.MetricOptions{Label: jsii.String("p50"), Period: dashboardPeriod, Statistic: jsii.String("p50")}),
				fn.MetricDuration(&awscloudwatch.MetricOptions{Label: jsii.String("p99"), Period: dashboardPeriod, Statistic: jsii.String("p99")}),
			},
			LeftYAxis: &awscloudwatch.YAxisProps{Min: jsii.Number(0), ShowUnits: jsii.Bool(false)},
		}))
	}
	functions := []awscloudwatch.IWidget{
		graph("Function errors (failed invocations), by function", 12, false, errs...),
		graph("Function throttles, by function", 12, false, throttles...),
	}

	d := awscloudwatch.NewDashboard(c, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(props.Name),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
		Widgets:         &[]*[]awscloudwatch.IWidget{{intro}, &service, &alarmed, &queues, &functions, &durations},
	})
	overrideLogicalID(d, DashboardLogicalID)
	return &Dashboard{Construct: c, Dashboard: d}, nil
}
