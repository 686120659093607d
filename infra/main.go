// Command infra is the CDK app that deploys sfsync: one self-contained stack
// per region of the chosen stage. `cdk synth` and `cdk deploy` run it through
// cdk.json; `make synth` runs it directly and writes cdk.out.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/sfsync/sfsync/infra/config"
	"github.com/sfsync/sfsync/infra/stack"
)

// Context keys read from `cdk -c key=value` or cdk.json.
const (
	ctxConfig   = "config"   // path of the deployment config file
	ctxStage    = "stage"    // overrides the file's stage
	ctxRegions  = "regions"  // comma-separated; overrides the file's regions
	ctxAccount  = "account"  // overrides the file's account
	ctxAssetDir = "assetDir" // where make build put the function zips
)

const (
	defaultConfig   = "config/dev.json"
	defaultAssetDir = "../build"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("synth failed", "err", err)
		os.Exit(1)
	}
}

func run() error {
	props := &awscdk.AppProps{}
	if os.Getenv("CDK_OUTDIR") == "" {
		// Run without the CDK CLI: write where the CLI would.
		props.Outdir = jsii.String("cdk.out")
	}
	app := awscdk.NewApp(props)
	cfg, err := config.Load(contextString(app, ctxConfig, defaultConfig), config.Overrides{
		Stage:   contextString(app, ctxStage, ""),
		Regions: contextString(app, ctxRegions, ""),
		Account: contextString(app, ctxAccount, os.Getenv("CDK_DEFAULT_ACCOUNT")),
	})
	if err != nil {
		return err
	}
	assetDir := contextString(app, ctxAssetDir, defaultAssetDir)
	for _, region := range cfg.Regions {
		env := &awscdk.Environment{Region: jsii.String(region)}
		if cfg.Account != "" {
			env.Account = jsii.String(cfg.Account)
		}
		name := cfg.StackName(region)
		_, err := stack.NewServiceStack(app, name, &stack.ServiceStackProps{
			StackProps: awscdk.StackProps{
				Env:                   env,
				StackName:             jsii.String(name),
				Description:           jsii.String(fmt.Sprintf("sfsync %s in %s: Salesforce sync for the sequencer", cfg.Stage, region)),
				TerminationProtection: jsii.Bool(cfg.Stage == "prod"),
			},
			Config:   cfg,
			AssetDir: assetDir,
		})
		if err != nil {
			return err
		}
	}
	app.Synth(nil)
	return nil
}

func contextString(app awscdk.App, key, fallback string) string {
	if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok && v != "" {
		return v
	}
	return fallback
}
