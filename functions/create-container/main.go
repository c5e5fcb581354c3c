// Command create-container is Berth's POST /v1/containers as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("create-container") }
