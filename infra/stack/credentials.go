package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// CredentialsProps configures the secrets of a stack.
type CredentialsProps struct {
	// Stage names the secret's description, nothing else.
	Stage string
}

// Credentials holds the key that envelope-encrypts Salesforce tokens and the
// Salesforce connected app's client secret.
type Credentials struct {
	constructs.Construct
	// TokenKey encrypts the data keys of stored OAuth tokens. It is separate
	// from the table key so that reading a table never implies reading tokens.
	TokenKey awskms.Key
	// ClientSecret holds the connected app's consumer secret. The stack
	// creates it with a random placeholder; the operator sets the real value.
	ClientSecret awssecretsmanager.Secret
}

// NewCredentials creates the token key and the client secret, both retained
// when the stack is deleted (deleting either strands every connection).
func NewCredentials(scope constructs.Construct, id string, props *CredentialsProps) *Credentials {
	c := constructs.NewConstruct(scope, jsii.String(id))
	key := awskms.NewKey(c, jsii.String("TokenKey"), &awskms.KeyProps{
		Description:       jsii.String("Envelope encryption of Salesforce OAuth tokens (sfsync " + props.Stage + ")"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	overrideLogicalID(key, "TokenKey")
	secret := awssecretsmanager.NewSecret(c, jsii.String("ClientSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Salesforce connected app consumer secret (sfsync " + props.Stage + "); set by the operator"),
		// A random placeholder: the template never carries a secret value, and
		// CloudFormation generates it only on create, so an update never
		// overwrites the value the operator put.
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(32),
			ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	overrideLogicalID(secret, "SalesforceClientSecret")
	return &Credentials{Construct: c, TokenKey: key, ClientSecret: secret}
}
