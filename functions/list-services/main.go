// Command list-services is Berth's GET /v1/services as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("list-services") }
