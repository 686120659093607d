package stack

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/sfsync/sfsync/shared/resources"
)

// APIProps configures the HTTP API.
type APIProps struct {
	Handler        awslambda.IFunction
	Routes         []resources.Route
	JWTIssuer      string
	JWTAudience    []string
	RequiredScopes []string // on every authorized route; none when empty
	AdminOrigin    string   // the only origin CORS allows
	RateLimit      float64  // requests per second on the default stage
	BurstLimit     int
	LogRetention   int // days
}

// API is the admins' HTTP API.
type API struct {
	constructs.Construct
	HTTPAPI awsapigatewayv2.HttpApi
	Stage   awsapigatewayv2.HttpStage
}

// accessLogFormat is one JSON line per request; no header or body is logged,
// so neither bearer tokens nor OAuth codes reach the log.
var accessLogFormat = map[string]string{
	"requestId":      "$context.requestId",
	"ip":             "$context.identity.sourceIp",
	"requestTime":    "$context.requestTime",
	"routeKey":       "$context.routeKey",
	"status":         "$context.status",
	"responseLength": "$context.responseLength",
	"latencyMs":      "$context.responseLatency",
	"integrationMs":  "$context.integrationLatency",
	"authorizerErr":  "$context.authorizer.error",
	"integrationErr": "$context.integrationErrorMessage",
	"sub":            "$context.authorizer.claims.sub",
}

// NewAPI creates the HTTP API with one route per declaration, a JWT
// authorizer on every non-public route, CORS for the admin app, throttling
// and access logs on the default stage.
func NewAPI(scope constructs.Construct, id string, props *APIProps) (*API, error) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	api := awsapigatewayv2.NewHttpApi(c, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		Description:        jsii.String("sfsync admin API"),
		CreateDefaultStage: jsii.Bool(false),
		CorsPreflight: &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins: jsii.Strings(props.AdminOrigin),
			AllowMethods: &[]awsapigatewayv2.CorsHttpMethod{
				awsapigatewayv2.CorsHttpMethod_GET, awsapigatewayv2.CorsHttpMethod_PUT,
				awsapigatewayv2.CorsHttpMethod_POST, awsapigatewayv2.CorsHttpMethod_DELETE,
			},
			// if-match: every PUT of a versioned document sends it.
			AllowHeaders: jsii.Strings("authorization", "content-type", "if-match"),
			MaxAge:       awscdk.Duration_Hours(jsii.Number(1)),
		},
	})
	overrideLogicalID(api, "HttpApi")

	logs := newLogGroup(c, jsii.String("AccessLogs"), props.LogRetention)
	format, err := json.Marshal(accessLogFormat)
	if err != nil {
		return nil, fmt.Errorf("access log format: %w", err)
	}
	stage := api.AddStage(jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageOptions{
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(props.RateLimit),
			BurstLimit: jsii.Number(props.BurstLimit),
		},
	})
	cfnStage := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfnStage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: logs.LogGroupArn(),
		Format:         jsii.String(string(format)),
	})

	authorizer := awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("JwtAuthorizer"), jsii.String(props.JWTIssuer),
		&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
			JwtAudience:    jsii.Strings(props.JWTAudience...),
			IdentitySource: jsii.Strings("$request.header.Authorization"),
		})
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("ApiIntegration"), props.Handler,
		&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
			PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		})
	seen := map[string]bool{}
	for _, r := range props.Routes {
		if seen[r.Key()] {
			return nil, fmt.Errorf("route %s: declared twice", r.Key())
		}
		seen[r.Key()] = true
		opts := &awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(strings.ToUpper(r.Method))},
			Integration: integration,
		}
		if r.Public {
			opts.Authorizer = awsapigatewayv2.NewHttpNoneAuthorizer()
		} else {
			opts.Authorizer = authorizer
			if len(props.RequiredScopes) > 0 {
				opts.AuthorizationScopes = jsii.Strings(props.RequiredScopes...)
			}
		}
		api.AddRoutes(opts)
	}
	return &API{Construct: c, HTTPAPI: api, Stage: stage}, nil
}

// URL is the base URL of the default stage, ending in a slash.
func (a *API) URL() *string { return a.Stage.Url() }
