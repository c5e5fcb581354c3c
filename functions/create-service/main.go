// Command create-service is Berth's POST /v1/services as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("create-service") }
