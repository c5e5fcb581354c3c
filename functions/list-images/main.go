// Command list-images is Berth's GET /v1/images as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("list-images") }
