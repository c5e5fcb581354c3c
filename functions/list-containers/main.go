// Command list-containers is Berth's GET /v1/containers as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("list-containers") }
