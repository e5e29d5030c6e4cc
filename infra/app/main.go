// Command app is Bora's CDK app: `cdk synth` (make synth) writes the
// templates of the Bora stack (AWS, arm64) and of the BoraLocal stack (the
// emulator) to cdk.out. It reads the functions' packages from ../dist, as
// `make build` writes them; BORA_DIST names another directory.
package main

import (
	"cmp"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/borawf/bora/infra"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	dist := cmp.Or(os.Getenv("BORA_DIST"), "../dist")
	infra.NewAWSStack(app, dist)
	infra.NewLocalStack(app, dist)
	infra.Check(app)
	app.Synth(nil)
}
