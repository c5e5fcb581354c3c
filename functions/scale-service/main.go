// Command scale-service is Berth's POST /v1/services/{name}/scale as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("scale-service") }
