// Command connector-scale-service is Berth's POST /service/{name}/scale as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("connector-scale-service") }
