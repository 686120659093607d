package stack_test

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/sfsync/sfsync/infra/config"
	"github.com/sfsync/sfsync/infra/stack"
	"github.com/sfsync/sfsync/shared/resources"
)

// The app is synthesized once for the package: two regions of one stage.
// Every test reads the templates; none mutates them. The jsii runtime is not
// safe for concurrent calls, so tests marked t.Parallel only read the Go
// values below (tmpls, stackInfos); tests calling into the CDK run serially.
var (
	stackInfos  = map[string]stackInfo{}
	testRegions = []string{"eu-west-1", "us-east-1"}
	testConfig  config.Config
	stacks      = map[string]*stack.ServiceStack{}
	templates   = map[string]assertions.Template{}
	tmpls       = map[string]cfn{} // the same templates as JSON maps
	assetDir    string
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	defer jsii.Close()

	dir, err := os.MkdirTemp("", "sfsync-infra-assets-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp asset dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := writePlaceholderAssets(dir); err != nil {
		fmt.Fprintln(os.Stderr, "placeholder assets:", err)
		return 1
	}
	assetDir = dir

	testConfig, err = config.Parse([]byte(`{
		"stage": "test",
		"regions": ["eu-west-1", "us-east-1"],
		"account": "123456789012",
		"jwtIssuer": "https://auth.example.com/",
		"jwtAudience": ["sfsync-admin"],
		"adminOrigin": "https://admin.example.com",
		"oauthReturnUrl": "https://admin.example.com/settings/salesforce",
		"consoleFrameAncestors": "https://admin.example.com",
		"salesforceClientId": "3MVG9TESTCLIENT",
		"sequencerPrincipals": ["arn:aws:iam::210987654321:role/sequencer"],
		"logRetentionDays": 30,
		"throttle": {"ratePerSecond": 25, "burst": 50},
		"alarms": {"email": "oncall@example.com", "oldestMessageSeconds": 600, "needsReauthThreshold": 1, "budgetExceededThreshold": 3}
	}`))
	if err == nil {
		err = testConfig.Validate()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "test config:", err)
		return 1
	}
	outDir, err := os.MkdirTemp("", "sfsync-infra-out-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp out dir:", err)
		return 1
	}
	defer os.RemoveAll(outDir)
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outDir)})
	for _, region := range testRegions {
		name := testConfig.StackName(region)
		s, err := stack.NewServiceStack(app, name, &stack.ServiceStackProps{
			StackProps: awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String(testConfig.Account), Region: jsii.String(region)}},
			Config:     testConfig,
			AssetDir:   assetDir,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "synthesize:", err)
			return 1
		}
		stacks[region] = s
	}
	for region, s := range stacks {
		templates[region] = assertions.Template_FromStack(s.Stack, nil)
		tmpls[region] = cfn(*templates[region].ToJSON())
		info := stackInfo{name: *s.StackName(), region: *s.Region()}
		if deps := s.Dependencies(); deps != nil {
			info.dependencies = len(*deps)
		}
		stackInfos[region] = info
	}
	return m.Run()
}

type stackInfo struct {
	name, region string
	dependencies int
}

// writePlaceholderAssets writes <fn>.zip holding an empty bootstrap for every
// declared function, so the tests need no make build.
func writePlaceholderAssets(dir string) error {
	for _, f := range resources.Functions {
		out, err := os.Create(filepath.Join(dir, f.Name+".zip"))
		if err != nil {
			return err
		}
		zw := zip.NewWriter(out)
		if _, err := zw.Create("bootstrap"); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
	return nil
}
