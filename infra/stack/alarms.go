package stack

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// The metrics the functions emit in CloudWatch embedded metric format; see
// infra/README.md for the contract.
const (
	MetricNamespace      = "SFSync"
	MetricNeedsReauth    = "NeedsReauth"
	MetricBudgetExceeded = "BudgetExceeded"
	MetricNeedsAdmin     = "NeedsAdmin"
	MetricAppRefused     = "AppRefused"
	MetricTeamDimension  = "TeamId"
)

// AlarmsProps configures the alarms.
type AlarmsProps struct {
	Topic     awssns.ITopic
	Queues    *Queues
	Functions *Functions
	// EventQueues are the queues (by name) whose oldest message age is watched.
	EventQueues             []string
	OldestMessageSeconds    int
	NeedsReauthThreshold    int
	BudgetExceededThreshold int
}

// Alarms holds every alarm of the stack.
type Alarms struct {
	constructs.Construct
	All []awscloudwatch.Alarm
}

// NewAlarms creates the alarms, each sending to the topic: a message in any
// DLQ, function errors and throttles, old messages on the event queues, and
// the functions' NeedsReauth, NeedsAdmin, AppRefused and BudgetExceeded
// metrics summed over teams. NeedsAdmin alarms at the first held event (a
// team's admin must act), and so does AppRefused: Salesforce refuses this
// deployment's connected app, every team's syncs stop, and only the
// operator can fix it.
func NewAlarms(scope constructs.Construct, id string, props *AlarmsProps) (*Alarms, error) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	a := &Alarms{Construct: c}
	action := awscloudwatchactions.NewSnsAction(props.Topic)
	add := func(alarm awscloudwatch.Alarm) {
		alarm.AddAlarmAction(action)
		alarm.AddOkAction(action)
		a.All = append(a.All, alarm)
	}
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))

	names := make([]string, 0, len(props.Queues.ByName))
	for name := range props.Queues.ByName {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		q := props.Queues.ByName[name]
		add(q.DLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period: fiveMinutes, Statistic: jsii.String("Maximum"),
		}).CreateAlarm(c, jsii.String(pascal(name)+"DLQNotEmpty"), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(fmt.Sprintf("Messages in the %s dead-letter queue: inspect them and redrive", name)),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}))
	}
	for _, name := range props.EventQueues {
		q, ok := props.Queues.ByName[name]
		if !ok {
			return nil, fmt.Errorf("alarm on queue %q: not declared", name)
		}
		add(q.Main.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{
			Period: fiveMinutes, Statistic: jsii.String("Maximum"),
		}).CreateAlarm(c, jsii.String(pascal(name)+"OldestMessage"), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(fmt.Sprintf("Events on %s wait longer than %ds: the sync is falling behind or paused", name, props.OldestMessageSeconds)),
			Threshold:          jsii.Number(props.OldestMessageSeconds),
			EvaluationPeriods:  jsii.Number(3),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}))
	}

	fnNames := make([]string, 0, len(props.Functions.ByName))
	for name := range props.Functions.ByName {
		fnNames = append(fnNames, name)
	}
	slices.Sort(fnNames)
	for _, name := range fnNames {
		fn := props.Functions.ByName[name]
		for _, m := range []struct {
			id     string
			metric func(*awscloudwatch.MetricOptions) awscloudwatch.Metric
			what   string
		}{
			{"Errors", fn.MetricErrors, "invocations failed"},
			{"Throttles", fn.MetricThrottles, "invocations were throttled"},
		} {
			add(m.metric(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}).
				CreateAlarm(c, jsii.String(pascal(name)+m.id), &awscloudwatch.CreateAlarmOptions{
					AlarmDescription:   jsii.String(fmt.Sprintf("sfsync %s: %s", name, m.what)),
					Threshold:          jsii.Number(1),
					EvaluationPeriods:  jsii.Number(1),
					ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
					TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
				}))
		}
	}

	for _, m := range []struct {
		metric, what string
		threshold    int
	}{
		{MetricNeedsReauth, "events could not sync because a team's Salesforce connection needs a new consent", props.NeedsReauthThreshold},
		{MetricBudgetExceeded, "events were deferred because a team reached its Salesforce API budget", props.BudgetExceededThreshold},
		{MetricNeedsAdmin, "events could not sync because Salesforce refuses a team's connection for a cause the team's admin must fix " +
			"(inactive user or org)", 1},
		{MetricAppRefused, "events were held because Salesforce refuses this deployment's connected app (invalid_client, " +
			"invalid_client_id): check SALESFORCE_CLIENT_ID and the consumer secret; teams recover by themselves once fixed", 1},
	} {
		// A Metrics Insights query sums the per-team series, so the functions
		// emit only the TeamId dimension and no team is missed.
		expr := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(fmt.Sprintf(`SELECT SUM(%s) FROM SCHEMA(%q, %s)`, m.metric, MetricNamespace, MetricTeamDimension)),
			Period:     awscdk.Duration_Hours(jsii.Number(1)),
			Label:      jsii.String(m.metric + " (all teams)"),
		})
		add(expr.CreateAlarm(c, jsii.String(m.metric), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(fmt.Sprintf("Within an hour at least %d %s", m.threshold, m.what)),
			Threshold:          jsii.Number(m.threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}))
	}
	return a, nil
}
